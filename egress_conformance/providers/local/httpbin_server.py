"""The external service's process: the real httpbin app over plain HTTP and, with a
throwaway certificate, over TLS, on the ports the run's targets need (80 and 443 unless
an allow-list names others). Started inside the local mesh's external host namespace
(on real clusters the simulated host is go-httpbin: providers/external_target.py).

A TLS port answers a plain HTTP request with 400, as Go's server (go-httpbin on real
clusters) and the public httpbin.org do, instead of cutting the connection: the
TLS-origination scenario reads that 400 as the host's word that the request came plain.

Usage: python -m egress_conformance.providers.local.httpbin_server CERT KEY [PLAIN_PORTS [TLS_PORTS]]
(ports comma-separated; default 80 and 443)
"""

import socket
import ssl
import sys
import threading

import httpbin
from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler, make_server

PLAIN_ON_TLS = "plain-on-a-tls-port"
HANDSHAKE = b"\x16"
"""The first byte of a TLS record carrying a handshake (a ClientHello)."""


class _Handler(WSGIRequestHandler):
    def make_environ(self):
        environ = super().make_environ()
        environ["wsgi.url_scheme"] = "https" if isinstance(self.connection, ssl.SSLSocket) else PLAIN_ON_TLS
        return environ


class TlsPortServer(ThreadedWSGIServer):
    """TLS for a client that starts a handshake; a plain client is answered 400 (see the app below)."""

    def __init__(self, port: int, context: ssl.SSLContext):
        super().__init__("0.0.0.0", port, _answer_plain_with_400(httpbin.app), handler=_Handler)
        self.context = context

    def get_request(self):
        connection, address = self.socket.accept()
        connection.settimeout(5)
        try:
            if connection.recv(1, socket.MSG_PEEK) == HANDSHAKE:
                connection = self.context.wrap_socket(connection, server_side=True)
        except (OSError, ssl.SSLError):
            pass  # a client that left or failed its handshake: its request thread finds the socket dead
        connection.settimeout(None)
        return connection, address


def _answer_plain_with_400(app):
    def application(environ, start_response):
        if environ["wsgi.url_scheme"] == PLAIN_ON_TLS:
            start_response("400 Bad Request", [("Content-Type", "text/plain")])
            return [b"Client sent an HTTP request to an HTTPS server.\n"]
        return app(environ, start_response)

    return application


def main(cert: str, key: str, plain: str = "80", tls: str = "443") -> None:
    plain_ports, tls_ports = ([int(p) for p in ports.split(",") if p] for ports in (plain, tls))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    servers = [make_server("0.0.0.0", port, httpbin.app, threaded=True) for port in plain_ports]
    servers += [TlsPortServer(port, context) for port in tls_ports]
    threads = [threading.Thread(target=server.serve_forever, daemon=True) for server in servers]
    for thread in threads:
        thread.start()
    print(f"httpbin serving plain HTTP on {plain_ports} and TLS on {tls_ports}", flush=True)
    for thread in threads:
        thread.join()


if __name__ == "__main__":
    main(*sys.argv[1:5])
