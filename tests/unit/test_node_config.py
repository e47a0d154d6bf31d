"""The node's generated configuration keeps every path and address inside the node's own
dirs and range (never the system containerd's or kubelet's), and parses as its daemon expects."""

import ipaddress
import json
import pathlib
import re
import tomllib

from egress_testbed.node import builds, kubelet, layout, network, ports, proxy, runtime

BINARIES = builds.NodeBinaries(
    containerd_bin=pathlib.Path("/cache/containerd/bin"), runc_bin=pathlib.Path("/cache/runc/bin"),
    kubernetes_bin=pathlib.Path("/cache/k/bin"), coredns_bin=pathlib.Path("/cache/coredns/bin"),
)
NODE_RANGE = ipaddress.ip_network("198.19.0.0/16")


def _paths(text: str) -> list[str]:
    text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    return re.findall(r"(/(?:var|run|etc|opt)/[\w./-]*)", text)


def test_containerd_config_uses_only_the_nodes_dirs(monkeypatch):
    monkeypatch.setattr(builds.NodeBinaries, "binary", lambda self, name: self.runc_bin / name)
    text = runtime.config(BINARIES, "egress.local/pause:3.10")
    parsed = tomllib.loads(text)
    assert parsed["version"] == 4 and parsed["imports"] == []
    cri = parsed["plugins"]["io.containerd.cri.v1.runtime"]
    assert cri["restrict_oom_score_adj"] is True
    assert cri["containerd"]["runtimes"]["runc"]["options"]["SystemdCgroup"] is False
    assert parsed["plugins"]["io.containerd.cri.v1.images"]["pinned_images"]["sandbox"] == "egress.local/pause:3.10"
    outside = [p for p in _paths(text) if not p.startswith((str(layout.STATE), str(layout.RUN)))]
    assert outside == [], f"containerd config points outside the node's dirs: {outside}"


def test_kubelet_config_for_this_vm():
    config = kubelet.config("/var/lib/egress-node/pki/ca.crt")
    assert config["failCgroupV1"] is False and config["cgroupDriver"] == "cgroupfs"
    assert config["oomScoreAdj"] == 0 and config["makeIPTablesUtilChains"] is False
    outside = [p for p in _paths(json.dumps(config)) if not p.startswith((str(layout.STATE), str(layout.RUN)))]
    assert outside == [], f"kubelet config points outside the node's dirs: {outside}"
    for address in [config["address"], config["healthzBindAddress"], *config["clusterDNS"]]:
        assert ipaddress.ip_address(address) in NODE_RANGE


def test_kube_proxy_leaves_host_sysctls_alone():
    config = proxy.config()
    assert config["mode"] == "iptables"
    assert config["iptables"]["localhostNodePorts"] is False
    assert config["conntrack"]["maxPerCore"] == 0 and config["oomScoreAdj"] == 0


def test_cni_network_state_stays_in_the_node_dirs(tmp_path, monkeypatch):
    monkeypatch.setattr(layout, "CNI_CONF_DIR", tmp_path)
    network.write_cni_config()
    conf = json.loads((tmp_path / "10-egress-node.conflist").read_text())
    bridge = conf["plugins"][0]
    assert bridge["bridge"] == layout.BRIDGE and bridge["ipMasq"] is False
    assert bridge["ipam"]["dataDir"].startswith(str(layout.STATE))
    assert ipaddress.ip_network(bridge["ipam"]["ranges"][0][0]["subnet"]).subnet_of(NODE_RANGE)


def test_every_address_is_in_the_node_range():
    for address in (layout.NODE_IP, layout.KUBERNETES_SERVICE_IP, layout.DNS_SERVICE_IP):
        assert ipaddress.ip_address(address) in NODE_RANGE
    for cidr in (layout.POD_CIDR, layout.SERVICE_CIDR):
        assert ipaddress.ip_network(cidr).subnet_of(NODE_RANGE)
    assert ipaddress.ip_address(layout.KUBERNETES_SERVICE_IP) in ipaddress.ip_network(layout.SERVICE_CIDR)


SS_OUTPUT = """\
tcp   LISTEN 0      4096      198.19.0.1:6443       0.0.0.0:*    users:(("kube-apiserver",pid=4242,fd=7))
udp   UNCONN 0      0          127.0.0.53%lo:53      0.0.0.0:*    users:(("systemd-resolve",pid=17,fd=13))
tcp   LISTEN 0      128             [::]:10250         [::]:*
"""


def test_listeners_are_parsed_with_their_holders():
    assert ports.listeners(SS_OUTPUT) == [
        ("198.19.0.1", 6443, "kube-apiserver", 4242),
        ("127.0.0.53", 53, "systemd-resolve", 17),
        ("::", 10250, "", None),
    ]


def test_kube_router_runs_its_firewall_only_and_finds_only_its_own_ipsets(monkeypatch):
    import pathlib
    import subprocess

    from egress_testbed.node import netpol

    argv = netpol.argv(pathlib.Path("/cache/kube-router-v2.1.0/bin"))
    assert argv[0] == "/cache/kube-router-v2.1.0/bin/kube-router"
    assert {"--run-firewall=true", "--run-router=false", "--run-service-proxy=false", "--run-loadbalancer=false",
            "--service-cluster-ip-range=198.19.128.0/20", "--hostname-override=egress-node"} <= set(argv)
    listing = "KUBE-SRC-ABC\nKUBE-DST-DEF\ndocker-owned\nTMP-XYZ\ncali40all\n"
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 0, listing, ""))
    assert netpol.ipsets() == ["KUBE-SRC-ABC", "KUBE-DST-DEF", "TMP-XYZ"]
