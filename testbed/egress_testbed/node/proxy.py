"""kube-proxy in iptables mode, as a host process (what its DaemonSet's hostNetwork pod is
on a real node), with the settings that leave the host's sysctls alone."""

import json
import subprocess
import urllib.request

from egress_testbed.node import builds, daemons, layout

READY_TIMEOUT_SECONDS = 60.0


def config() -> dict:
    """KubeProxyConfiguration (kubeproxy.config.k8s.io/v1alpha1)."""
    return {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "mode": "iptables",
        "clientConnection": {"kubeconfig": str(layout.KUBECONFIG)},
        "hostnameOverride": layout.NAME,
        "bindAddress": layout.NODE_IP,
        "healthzBindAddress": f"{layout.NODE_IP}:{layout.PROXY_HEALTHZ_PORT}",
        "metricsBindAddress": f"{layout.NODE_IP}:{layout.PROXY_METRICS_PORT}",
        "clusterCIDR": layout.POD_CIDR,
        # Zero keeps kube-proxy's hands off the host's conntrack sysctls.
        "conntrack": {"maxPerCore": 0, "min": 0, "tcpEstablishedTimeout": "0s", "tcpCloseWaitTimeout": "0s"},
        # localhostNodePorts would set route_localnet on the host.
        "iptables": {"localhostNodePorts": False, "masqueradeAll": False},
        # Lowering an OOM score needs CAP_SYS_RESOURCE, which this VM lacks.
        "oomScoreAdj": 0,
    }


def start(binaries: builds.NodeBinaries) -> None:
    """Start kube-proxy unless it runs; wait until its healthz says its rules are synced."""
    if daemons.pid("kube-proxy") is not None:
        return
    conf = layout.STATE / "kube-proxy-config.json"
    conf.write_text(json.dumps(config(), indent=2))
    daemons.start("kube-proxy", [str(binaries.binary("kube-proxy")), f"--config={conf}"],
                  env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
    daemons.wait_ready("kube-proxy", _healthy, timeout=READY_TIMEOUT_SECONDS, what="GET /healthz")


def _healthy() -> bool:
    url = f"http://{layout.NODE_IP}:{layout.PROXY_HEALTHZ_PORT}/healthz"
    with urllib.request.urlopen(url, timeout=2) as response:
        return response.status == 200


def cleanup(binaries: builds.NodeBinaries | None) -> None:
    """Remove every iptables chain and rule kube-proxy made (its own --cleanup)."""
    if binaries is None:
        return
    subprocess.run([str(binaries.binary("kube-proxy")), "--cleanup"], capture_output=True,
                   env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
