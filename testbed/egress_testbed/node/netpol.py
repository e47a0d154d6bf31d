"""The node's NetworkPolicy implementation: kube-router in firewall-only mode (iptables and
ipset; no routing, no service proxy), a host process beside kube-proxy, as its DaemonSet's
hostNetwork pod is on a real node.

Why kube-router and not kube-network-policies (kind's): v0.8.0 hands every new connection
to user space through an nftables ``queue`` expression (pkg/networkpolicy/controller.go,
``expr.Queue``) and has no iptables path; this VM's kernel lacks CONFIG_NFT_QUEUE.
kube-router's firewall needs iptables, ipset (hash:ip, hash:net, xt_set) and nothing else.

KUBE_ROUTER v2.1.0 is the version the Go module proxy serves; security advisories are
reported for it. It is acceptable only on this throwaway test node, which nothing outside
the host can reach: pinned here, and said in docs/node.md.
"""

import subprocess
import urllib.request

from egress_testbed.install import gobuild
from egress_testbed.node import daemons, layout

NAME = "kube-router"
KUBE_ROUTER = "v2.1.0"
"""github.com/cloudnativelabs/kube-router/v2 release (advisories reported: test node only)."""
MODULE = "github.com/cloudnativelabs/kube-router/v2"

READY_TIMEOUT_SECONDS = 60.0
IPSET_PREFIXES = ("KUBE-SRC-", "KUBE-DST-", "TMP-", "inet6:KUBE-")
"""kube-router's ipsets (pkg/controllers/netpol: policy source and destination sets; pkg/utils/ipset.go:
TMP- while it swaps a set). Its iptables chains are KUBE-ROUTER-*, KUBE-POD-FW-*, KUBE-NWPLCY-*:
KUBE- chains, which the sweep removes with kube-proxy's."""
ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}


def build():
    """kube-router's binary directory, built once from the module proxy and cached by version."""
    return gobuild.build(
        name="kube-router",
        version=KUBE_ROUTER,
        requires={MODULE: KUBE_ROUTER},
        replaces={},
        packages={"": [f"{MODULE}/cmd/kube-router"]},
        ldflags=f"-X {MODULE}/pkg/version.Version={KUBE_ROUTER}",
        env={"CGO_ENABLED": "0"},
    )


def argv(bin_dir) -> list[str]:
    """Firewall only: NetworkPolicy through iptables and ipset, nothing else of kube-router's."""
    return [
        str(bin_dir / "kube-router"),
        f"--kubeconfig={layout.KUBECONFIG}",
        f"--hostname-override={layout.NAME}",
        "--run-firewall=true", "--run-router=false", "--run-service-proxy=false", "--run-loadbalancer=false",
        "--enable-ipv4=true", "--enable-ipv6=false",
        f"--service-cluster-ip-range={layout.SERVICE_CIDR}",
        f"--health-port={layout.NETPOL_HEALTH_PORT}",
        "--metrics-port=0",
        # A policy change is applied on its watch event; the periodic full sync only repairs drift.
        "--iptables-sync-period=1m",
        "-v=1",
    ]


def start(bin_dir) -> None:
    """Start kube-router unless it runs; wait until its healthz answers (its first sync is done)."""
    if daemons.pid(NAME) is not None:
        return
    daemons.start(NAME, argv(bin_dir), env=ENV)
    daemons.wait_ready(NAME, _healthy, timeout=READY_TIMEOUT_SECONDS, what="GET /healthz")


def _healthy() -> bool:
    url = f"http://127.0.0.1:{layout.NETPOL_HEALTH_PORT}/healthz"
    with urllib.request.urlopen(url, timeout=2) as response:
        return response.status == 200


def ipsets() -> list[str]:
    """kube-router's ipsets still on the host."""
    result = subprocess.run(["ipset", "list", "-n"], capture_output=True, text=True, env=ENV)
    if result.returncode != 0:
        return []  # no ipset tool: nothing can have made one through it
    return [name for name in result.stdout.split() if name.startswith(IPSET_PREFIXES)]


def cleanup() -> None:
    """Destroy kube-router's ipsets (after its iptables rules, which reference them, are gone)."""
    for name in ipsets():
        subprocess.run(["ipset", "destroy", name], capture_output=True, env=ENV)
