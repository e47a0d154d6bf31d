"""etcd, kube-apiserver, kube-controller-manager and kube-scheduler of the node cluster, on
the node address, with the node's PKI. etcd's data lives in the state dir, so a second
``up`` finds the cluster as it was left."""

import pathlib

from egress_conformance.cluster import healthz
from egress_testbed.node import certs, daemons, layout

READY_TIMEOUT_SECONDS = 120.0
"""Each component's time to answer its health endpoint (the API server's first start,
with its bootstrap controllers, is the slowest on two cores)."""


def start(kubernetes_bin: pathlib.Path, scheduler: pathlib.Path, pki: certs.Certs) -> None:
    """Start whichever of the four is not running, in dependency order, each waited for."""
    ip = layout.NODE_IP
    etcd_url = f"http://{ip}:{layout.ETCD_PORT}"
    if daemons.pid("etcd") is None:
        daemons.start("etcd", [
            str(kubernetes_bin / "etcd"), f"--name={layout.NAME}", f"--data-dir={layout.STATE / 'etcd'}",
            f"--listen-client-urls={etcd_url}", f"--advertise-client-urls={etcd_url}",
            f"--listen-peer-urls=http://{ip}:{layout.ETCD_PEER_PORT}",
            f"--initial-advertise-peer-urls=http://{ip}:{layout.ETCD_PEER_PORT}",
            f"--initial-cluster={layout.NAME}=http://{ip}:{layout.ETCD_PEER_PORT}",
            "--listen-metrics-urls=", "--log-level=warn",
        ])
    daemons.wait_ready("etcd", lambda: healthz.ok(f"{etcd_url}/health"), timeout=READY_TIMEOUT_SECONDS,
                       what="GET /health")

    if daemons.pid("kube-apiserver") is None:
        sa = pki.service_accounts
        daemons.start("kube-apiserver", [
            str(kubernetes_bin / "kube-apiserver"), f"--etcd-servers={etcd_url}",
            f"--bind-address={ip}", f"--advertise-address={ip}", f"--secure-port={layout.API_PORT}",
            f"--tls-cert-file={pki.apiserver.cert}", f"--tls-private-key-file={pki.apiserver.key}",
            f"--client-ca-file={pki.ca.cert}", "--authorization-mode=Node,RBAC",
            "--enable-admission-plugins=NodeRestriction",
            f"--kubelet-client-certificate={pki.admin.cert}", f"--kubelet-client-key={pki.admin.key}",
            # exec and logs reach the kubelet at the node address; its name is in no DNS.
            "--kubelet-preferred-address-types=InternalIP",
            f"--service-account-key-file={sa.cert}", f"--service-account-signing-key-file={sa.key}",
            f"--service-account-issuer=https://kubernetes.default.svc.{layout.CLUSTER_DOMAIN}",
            f"--service-cluster-ip-range={layout.SERVICE_CIDR}", "--allow-privileged=true",
            "--profiling=false",
        ])
    admin_tls = healthz.client_tls(pki.ca, pki.admin)
    daemons.wait_ready("kube-apiserver", lambda: healthz.ok(f"{certs.server()}/readyz", admin_tls),
                       timeout=READY_TIMEOUT_SECONDS, what="GET /readyz")
    admin = certs.write_kubeconfig(layout.KUBECONFIG, pki.ca, pki.admin)

    if daemons.pid("kube-controller-manager") is None:
        daemons.start("kube-controller-manager", [
            str(kubernetes_bin / "kube-controller-manager"), f"--kubeconfig={admin}",
            f"--authentication-kubeconfig={admin}", f"--authorization-kubeconfig={admin}",
            "--leader-elect=false", f"--bind-address={ip}", f"--secure-port={layout.CONTROLLER_MANAGER_PORT}",
            f"--service-account-private-key-file={pki.service_accounts.key}", f"--root-ca-file={pki.ca.cert}",
            "--use-service-account-credentials=true", f"--service-cluster-ip-range={layout.SERVICE_CIDR}",
            f"--cluster-signing-cert-file={pki.ca.cert}", f"--cluster-signing-key-file={pki.ca.key}",
            "--profiling=false",
        ])
    daemons.wait_ready("kube-controller-manager",
                       lambda: healthz.ok(f"https://{ip}:{layout.CONTROLLER_MANAGER_PORT}/healthz",
                                          healthz.self_signed()),
                       timeout=READY_TIMEOUT_SECONDS, what="GET /healthz")

    if daemons.pid("kube-scheduler") is None:
        daemons.start("kube-scheduler", [
            str(scheduler), f"--kubeconfig={admin}", f"--authentication-kubeconfig={admin}",
            f"--authorization-kubeconfig={admin}", "--leader-elect=false", f"--bind-address={ip}",
            f"--secure-port={layout.SCHEDULER_PORT}", "--profiling=false",
        ])
    healthy = f"https://{ip}:{layout.SCHEDULER_PORT}/healthz"
    daemons.wait_ready("kube-scheduler", lambda: healthz.ok(healthy, healthz.self_signed()),
                       timeout=READY_TIMEOUT_SECONDS, what="GET /healthz")
