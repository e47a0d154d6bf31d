"""Throwaway certificates for one run, made with the openssl command.

The API server, its admin client, the workload's SPIFFE identity and the fake
external service each get a certificate from a CA that lives only in the run's
directory and is removed with it.
"""

import dataclasses
import pathlib
import subprocess

from egress_conformance.providers.local.errors import LocalMeshError

VALID_DAYS = 2
"""Certificates outlive any run by far and are never reused across runs."""


@dataclasses.dataclass(frozen=True)
class KeyPair:
    cert: pathlib.Path
    key: pathlib.Path


def _openssl(*args: str) -> None:
    result = subprocess.run(["openssl", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise LocalMeshError(f"openssl {args[0]} failed: {result.stderr.strip()[-300:]}; check the openssl install")


def _config(path: pathlib.Path, extensions: list[str]) -> pathlib.Path:
    # Our own config keeps openssl's defaults (which add CA:TRUE to every -x509) out of leaf certs.
    path.write_text("[req]\ndistinguished_name=dn\nx509_extensions=ext\n[dn]\n[ext]\n" + "\n".join(extensions) + "\n")
    return path


def ca(directory: pathlib.Path, name: str, common_name: str) -> KeyPair:
    """A self-signed CA certificate and key."""
    pair = KeyPair(directory / f"{name}.crt", directory / f"{name}.key")
    conf = _config(directory / f"{name}.cnf", [
        "basicConstraints=critical,CA:TRUE",
        "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
        "subjectKeyIdentifier=hash",
    ])
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", str(VALID_DAYS), "-config", str(conf),
             "-subj", f"/CN={common_name}", "-keyout", str(pair.key), "-out", str(pair.cert))
    return pair


def leaf(
    directory: pathlib.Path,
    name: str,
    issuer: KeyPair,
    common_name: str,
    *,
    organization: str | None = None,
    dns: tuple[str, ...] = (),
    ips: tuple[str, ...] = (),
    uris: tuple[str, ...] = (),
) -> KeyPair:
    """A certificate signed by ``issuer``, usable as TLS server and client."""
    pair = KeyPair(directory / f"{name}.crt", directory / f"{name}.key")
    names = [f"DNS:{d}" for d in dns] + [f"IP:{i}" for i in ips] + [f"URI:{u}" for u in uris]
    extensions = [
        "basicConstraints=critical,CA:FALSE",
        "keyUsage=critical,digitalSignature,keyEncipherment",
        "extendedKeyUsage=serverAuth,clientAuth",
        "authorityKeyIdentifier=keyid",
    ]
    if names:
        extensions.append("subjectAltName=" + ",".join(names))
    conf = _config(directory / f"{name}.cnf", extensions)
    subject = f"/CN={common_name}" + (f"/O={organization}" if organization else "")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", str(VALID_DAYS), "-config", str(conf),
             "-subj", subject, "-CA", str(issuer.cert), "-CAkey", str(issuer.key),
             "-keyout", str(pair.key), "-out", str(pair.cert))
    return pair


def rsa_key(directory: pathlib.Path, name: str) -> KeyPair:
    """An RSA key and its public half (the API server's service-account signing key)."""
    pair = KeyPair(directory / f"{name}.pub", directory / f"{name}.key")
    _openssl("genrsa", "-out", str(pair.key), "2048")
    _openssl("rsa", "-in", str(pair.key), "-pubout", "-out", str(pair.cert))
    return pair
