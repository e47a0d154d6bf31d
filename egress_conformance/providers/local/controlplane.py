"""etcd, kube-apiserver and kube-controller-manager on loopback, with the run's own PKI.

The controller-manager is there so that namespaces really terminate and garbage
collection works, as on a real cluster. The kubeconfig it writes is the run's
own; the user's ~/.kube/config is never read or touched.
"""

import dataclasses
import pathlib

from egress_conformance import pki
from egress_conformance.changes import cleanup
from egress_conformance.cluster import healthz
from egress_conformance.installed import Layout
from egress_conformance.providers.local import ports, processes

READY_TIMEOUT_SECONDS = 90.0
"""How long each component may take to answer its health endpoint after start."""

SERVICE_CIDR = "10.96.0.0/16"
"""Allocated by the API server for Service objects only; no traffic goes there."""


@dataclasses.dataclass(frozen=True)
class ControlPlane:
    kubeconfig: pathlib.Path
    server: str
    apiserver: processes.Process
    etcd: processes.Process
    controller_manager: processes.Process

    def ensure_running(self) -> None:
        for process in (self.etcd, self.apiserver, self.controller_manager):
            process.ensure_running()


def start(layout: Layout, run_dir: pathlib.Path, undo: cleanup.Stack, record) -> ControlPlane:
    """Start etcd, kube-apiserver and kube-controller-manager; registers their stop on ``undo``."""
    pki_dir = run_dir / "pki"
    pki_dir.mkdir()
    cluster_ca = pki.ca(pki_dir, "cluster-ca", "egress-conformance-cluster-ca")
    serving = pki.leaf(pki_dir, "apiserver", cluster_ca, "kube-apiserver",
                       dns=("localhost", "kubernetes.default.svc"), ips=("127.0.0.1",))
    admin = pki.leaf(pki_dir, "admin", cluster_ca, "egress-conformance-admin", organization="system:masters")
    service_accounts = pki.rsa_key(pki_dir, "service-accounts")

    etcd_port, etcd_peer_port, api_port = (ports.free_loopback_port() for _ in range(3))
    etcd_url = f"http://127.0.0.1:{etcd_port}"
    etcd = processes.start("etcd", [
        str(layout.binary("etcd")), "--name=local", f"--data-dir={run_dir / 'etcd'}",
        f"--listen-client-urls={etcd_url}", f"--advertise-client-urls={etcd_url}",
        f"--listen-peer-urls=http://127.0.0.1:{etcd_peer_port}",
        f"--initial-advertise-peer-urls=http://127.0.0.1:{etcd_peer_port}",
        f"--initial-cluster=local=http://127.0.0.1:{etcd_peer_port}",
        "--listen-metrics-urls=", "--log-level=warn", "--unsafe-no-fsync",
    ], log_dir=run_dir, undo=undo, record=record)
    processes.wait_ready(etcd, lambda: healthz.ok(f"{etcd_url}/health"), timeout=READY_TIMEOUT_SECONDS,
                         what="GET /health")

    server = f"https://127.0.0.1:{api_port}"
    apiserver = processes.start("kube-apiserver", [
        str(layout.binary("kube-apiserver")), f"--etcd-servers={etcd_url}",
        "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", f"--secure-port={api_port}",
        f"--tls-cert-file={serving.cert}", f"--tls-private-key-file={serving.key}",
        f"--client-ca-file={cluster_ca.cert}", "--authorization-mode=RBAC",
        f"--service-account-key-file={service_accounts.cert}",
        f"--service-account-signing-key-file={service_accounts.key}",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        # No kubelet mounts tokens here, so pods must not wait for one.
        "--disable-admission-plugins=ServiceAccount",
        "--enable-priority-and-fairness=false", "--profiling=false",
    ], log_dir=run_dir, undo=undo, record=record)
    context = healthz.client_tls(cluster_ca, admin)
    processes.wait_ready(apiserver, lambda: healthz.ok(f"{server}/readyz", context), timeout=READY_TIMEOUT_SECONDS,
                         what="GET /readyz")

    kubeconfig = run_dir / "kubeconfig"
    kubeconfig.write_text(_kubeconfig(server, cluster_ca, admin))
    kcm_port = ports.free_loopback_port()
    controller_manager = processes.start("kube-controller-manager", [
        str(layout.binary("kube-controller-manager")), f"--kubeconfig={kubeconfig}",
        "--controllers=namespace,garbagecollector,serviceaccount,podgc",
        "--leader-elect=false", "--bind-address=127.0.0.1", f"--secure-port={kcm_port}",
        f"--authentication-kubeconfig={kubeconfig}", f"--authorization-kubeconfig={kubeconfig}",
    ], log_dir=run_dir, undo=undo, record=record)
    processes.wait_ready(controller_manager,
                         lambda: healthz.ok(f"https://127.0.0.1:{kcm_port}/healthz", healthz.self_signed()),
                         timeout=READY_TIMEOUT_SECONDS, what="GET /healthz")
    return ControlPlane(kubeconfig, server, apiserver, etcd, controller_manager)


def _kubeconfig(server: str, ca: pki.KeyPair, admin: pki.KeyPair) -> str:
    return f"""apiVersion: v1
kind: Config
clusters:
- name: local-mesh
  cluster:
    server: {server}
    certificate-authority: {ca.cert}
users:
- name: admin
  user:
    client-certificate: {admin.cert}
    client-key: {admin.key}
contexts:
- name: local-mesh
  context:
    cluster: local-mesh
    user: admin
current-context: local-mesh
"""
