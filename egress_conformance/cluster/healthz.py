"""Health endpoints of the Kubernetes components the suite starts itself (the local mesh's
and the node's): one GET, with the TLS each component's endpoint needs."""

import ssl
import urllib.request

from egress_conformance import pki


def client_tls(ca: pki.KeyPair, client: pki.KeyPair) -> ssl.SSLContext:
    """Verify the server against ``ca`` and present ``client`` (the API server's /readyz)."""
    context = ssl.create_default_context(cafile=str(ca.cert))
    context.load_cert_chain(str(client.cert), str(client.key))
    return context


def self_signed() -> ssl.SSLContext:
    """The controller-manager and scheduler serve /healthz with self-signed certificates of their own."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def ok(url: str, context: ssl.SSLContext | None = None) -> bool:
    """True when ``url`` answers 200 within two seconds."""
    with urllib.request.urlopen(url, timeout=2, context=context) as response:
        return response.status == 200
