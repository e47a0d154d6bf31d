"""Where the node keeps its files and which addresses it uses (all inside 198.19.0.0/16).

Everything the node creates lives under STATE or RUN, or is named after NAME, so that
the sweep can find it again after a run that was killed.
"""

import pathlib

NAME = "egress-node"
"""Node name, cgroup parent, CNI network name and iptables comment of everything the node adds."""

STATE = pathlib.Path("/var/lib/egress-node")
"""Persistent state: PKI, kubeconfigs, etcd data, containerd root, kubelet root, logs."""

RUN = pathlib.Path("/run/egress-node")
"""Run-time state: pid files, containerd state and sockets, runc root."""

KUBECONFIG = STATE / "kubeconfig"
"""Admin kubeconfig of the node's cluster (never the user's ~/.kube/config)."""

LOGS = STATE / "logs"
PIDS = RUN / "pids"
HOST_BEFORE = STATE / "host-before.json"
OWNS_KUBE_CHAINS = pathlib.Path("/var/lib/egress-node-owns-kube-chains")
"""Written by ``up`` on a host with no KUBE- iptables chain, removed by ``down`` once the host
is clean: while it exists, the host's KUBE- chains are the node's (kube-proxy's names carry
no prefix of ours), and only then does ``down`` run kube-proxy --cleanup or remove any."""
"""Host settings the node changes (sysctls, directories it may create), recorded before any change."""

BRIDGE = "ecnode0"
NODE_IP = "198.19.0.1"
"""The bridge's address: node address, API server, kubelet, CoreDNS all listen here."""
POD_CIDR = "198.19.0.0/24"
POD_RANGE_START = "198.19.0.10"
SERVICE_CIDR = "198.19.128.0/20"
KUBERNETES_SERVICE_IP = "198.19.128.1"
DNS_SERVICE_IP = "198.19.128.10"
CLUSTER_DOMAIN = "cluster.local"

API_PORT = 6443
ETCD_PORT = 2379
ETCD_PEER_PORT = 2380
CONTROLLER_MANAGER_PORT = 10257
SCHEDULER_PORT = 10259
KUBELET_PORT = 10250
KUBELET_HEALTHZ_PORT = 10248
PROXY_HEALTHZ_PORT = 10256
PROXY_METRICS_PORT = 10249
DNS_PORT = 53
DNS_HEALTH_PORT = 8080
DNS_READY_PORT = 8181
NETPOL_HEALTH_PORT = 20244
"""kube-router's healthz (its default port; it listens on every address)."""
FIXED_PORTS = {
    "etcd": ETCD_PORT, "etcd peer": ETCD_PEER_PORT, "kube-apiserver": API_PORT,
    "kube-controller-manager": CONTROLLER_MANAGER_PORT, "kube-scheduler": SCHEDULER_PORT,
    "kubelet": KUBELET_PORT, "kubelet healthz": KUBELET_HEALTHZ_PORT,
    "kube-proxy healthz": PROXY_HEALTHZ_PORT, "kube-proxy metrics": PROXY_METRICS_PORT,
    "coredns": DNS_PORT, "coredns health": DNS_HEALTH_PORT, "coredns ready": DNS_READY_PORT,
    "kube-router healthz": NETPOL_HEALTH_PORT,
}
"""Every port the node listens on at NODE_IP, checked free before anything starts."""

CONTAINERD_SOCKET = RUN / "containerd" / "containerd.sock"
CNI_CONF_DIR = STATE / "cni" / "net.d"
CNI_IPAM_DIR = STATE / "cni" / "ipam"
POD_LOGS = STATE / "pod-logs"

HOST_CNI_CACHE = pathlib.Path("/var/lib/cni")
"""libcni's cache directory, fixed in libcni (containerd has no setting for it): the sweep
removes the node's entries there."""
HOST_CONTAINER_LOGS = pathlib.Path("/var/log/containers")
"""kubelet's fixed directory of symlinks to container logs: the sweep removes the node's."""
