"""The external service's process: the real httpbin app on port 80 and, with a
throwaway certificate, on 443. Started inside the external host's namespace.

Usage: python -m egress_conformance.providers.local.httpbin_server CERT KEY
"""

import sys
import threading

import httpbin
from werkzeug.serving import make_server


def main(cert: str, key: str) -> None:
    servers = [
        make_server("0.0.0.0", 80, httpbin.app, threaded=True),
        make_server("0.0.0.0", 443, httpbin.app, threaded=True, ssl_context=(cert, key)),
    ]
    threads = [threading.Thread(target=server.serve_forever, daemon=True) for server in servers]
    for thread in threads:
        thread.start()
    print("httpbin serving on :80 and :443", flush=True)
    for thread in threads:
        thread.join()


if __name__ == "__main__":
    main(*sys.argv[1:3])
