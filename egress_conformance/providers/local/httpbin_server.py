"""The external service's process: the real httpbin app over plain HTTP and, with a
throwaway certificate, over TLS, on the ports the run's targets need (80 and 443 unless
an allow-list names others). Started inside the local mesh's external host namespace
(on real clusters the simulated host is go-httpbin: providers/external_target.py).

Usage: python -m egress_conformance.providers.local.httpbin_server CERT KEY [PLAIN_PORTS [TLS_PORTS]]
(ports comma-separated; default 80 and 443)
"""

import sys
import threading

import httpbin
from werkzeug.serving import make_server


def main(cert: str, key: str, plain: str = "80", tls: str = "443") -> None:
    plain_ports, tls_ports = ([int(p) for p in ports.split(",") if p] for ports in (plain, tls))
    servers = [make_server("0.0.0.0", port, httpbin.app, threaded=True) for port in plain_ports]
    servers += [make_server("0.0.0.0", port, httpbin.app, threaded=True, ssl_context=(cert, key)) for port in tls_ports]
    threads = [threading.Thread(target=server.serve_forever, daemon=True) for server in servers]
    for thread in threads:
        thread.start()
    print(f"httpbin serving plain HTTP on {plain_ports} and TLS on {tls_ports}", flush=True)
    for thread in threads:
        thread.join()


if __name__ == "__main__":
    main(*sys.argv[1:5])
