"""The node cluster's PKI and kubeconfigs, made once under STATE/pki and kept across ``up``s
(a second ``up`` reuses them, so clients holding the kubeconfig keep working)."""

import base64
import dataclasses
import pathlib

from egress_conformance import pki
from egress_testbed.node import layout

PKI = layout.STATE / "pki"


@dataclasses.dataclass(frozen=True)
class Certs:
    ca: pki.KeyPair
    apiserver: pki.KeyPair
    admin: pki.KeyPair
    kubelet: pki.KeyPair
    service_accounts: pki.KeyPair


def ensure() -> Certs:
    """The cluster's certificates, created on first use."""
    PKI.mkdir(parents=True, exist_ok=True)
    done = PKI / ".complete"
    if not done.exists():
        ca = pki.ca(PKI, "ca", "egress-node-ca")
        pki.leaf(PKI, "apiserver", ca, "kube-apiserver",
                 dns=("kubernetes", "kubernetes.default", "kubernetes.default.svc",
                      f"kubernetes.default.svc.{layout.CLUSTER_DOMAIN}", "localhost"),
                 ips=(layout.NODE_IP, layout.KUBERNETES_SERVICE_IP, "127.0.0.1"))
        pki.leaf(PKI, "admin", ca, "egress-node-admin", organization="system:masters")
        # The Node authorizer admits the kubelet by this exact name and group.
        pki.leaf(PKI, "kubelet", ca, f"system:node:{layout.NAME}", organization="system:nodes")
        pki.rsa_key(PKI, "service-accounts")
        done.write_text("ok\n")
    pair = lambda name: pki.KeyPair(PKI / f"{name}.crt", PKI / f"{name}.key")  # noqa: E731
    return Certs(ca=pair("ca"), apiserver=pair("apiserver"), admin=pair("admin"), kubelet=pair("kubelet"),
                 service_accounts=pki.KeyPair(PKI / "service-accounts.pub", PKI / "service-accounts.key"))


def server() -> str:
    return f"https://{layout.NODE_IP}:{layout.API_PORT}"


def write_kubeconfig(path: pathlib.Path, ca: pki.KeyPair, client: pki.KeyPair) -> pathlib.Path:
    """A self-contained kubeconfig for ``client`` (certificates inlined: a copy works anywhere)."""
    data = lambda file: base64.b64encode(file.read_bytes()).decode()  # noqa: E731
    path.write_text(f"""apiVersion: v1
kind: Config
clusters:
- name: {layout.NAME}
  cluster:
    server: {server()}
    certificate-authority-data: {data(ca.cert)}
users:
- name: {client.cert.stem}
  user:
    client-certificate-data: {data(client.cert)}
    client-key-data: {data(client.key)}
contexts:
- name: {layout.NAME}
  context:
    cluster: {layout.NAME}
    user: {client.cert.stem}
current-context: {layout.NAME}
""")
    path.chmod(0o600)
    return path
