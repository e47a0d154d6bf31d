"""The test bed's ambient pieces that need no cluster: the vendored ztunnel source and its one
manifest edit, and which rendered objects `ci/node ambient up` applies (and how it adapts them)."""

import tarfile

from egress_testbed.install import ztunnel
from egress_testbed.node import ambient, ambient_host


def test_the_vendored_manifest_has_exactly_the_text_the_build_drops():
    with tarfile.open(ztunnel.VENDORED) as archive:
        member = archive.extractfile(f"ztunnel-{ztunnel.COMMIT[:8]}/Cargo.toml")
        assert member is not None
        text = member.read().decode()
    for dropped in ztunnel.DROPPED_LINES:
        assert text.count(dropped) == 1, dropped
    edited = text
    for dropped in ztunnel.DROPPED_LINES:
        edited = edited.replace(dropped, "")
    assert "boring-rustls-provider" not in edited
    assert 'tls-boring = ["dep:boring", "dep:boring-sys"]' in edited


def test_the_cache_key_follows_the_source_and_the_profile(monkeypatch):
    key = ztunnel.key()
    assert key.startswith(ztunnel.COMMIT[:8])
    monkeypatch.setattr(ztunnel, "PROFILE", {**ztunnel.PROFILE, "CARGO_PROFILE_RELEASE_LTO": "true"})
    assert ztunnel.key() != key


def _rendered() -> list:
    cni = {"kind": "DaemonSet", "metadata": {"name": "istio-cni-node", "labels": {
        "operator.istio.io/component": "Cni"}}, "spec": {"template": {"spec": {
            "volumes": [{"name": "cni-host-procfs", "hostPath": {"path": "/proc"}},
                        {"name": "cni-netns-dir", "hostPath": {"path": str(ambient_host.NETNS_DIR)}}],
            "containers": [{"name": "install-cni", "env": [{"name": "ALLOW_SWITCH_TO_HOST_NS", "value": "true"}],
                            "volumeMounts": [{"name": "cni-netns-dir", "mountPath": "/host/var/run/netns"}]}]}}}}
    zt = {"kind": "DaemonSet", "metadata": {"name": "ztunnel", "labels": {"app.kubernetes.io/name": "ztunnel"}}}
    istiod = {"kind": "Deployment", "metadata": {"name": "istiod", "labels": {
        "operator.istio.io/component": "Pilot"}}}
    return [None, cni, zt, istiod]


def test_only_the_cni_and_ztunnel_components_are_applied():
    chosen = ambient.select(_rendered())
    assert [o["metadata"]["name"] for o in chosen] == ["istio-cni-node", "ztunnel"]


def test_the_cni_agent_runs_in_the_host_netns_with_its_own_proc_and_the_nodes_netns_dir():
    [cni, _] = ambient.select(_rendered())
    pod = cni["spec"]["template"]["spec"]
    assert pod["hostNetwork"] is True
    [container] = pod["containers"]
    assert {"name": "FORCE_IPTABLES_BINARY", "value": "nft"} in container["env"]
    assert all(e["name"] != "ALLOW_SWITCH_TO_HOST_NS" for e in container["env"])
    assert container["volumeMounts"][0]["mountPath"] == f"/host{ambient_host.NETNS_DIR}"
    assert pod["volumes"][0]["hostPath"]["path"] == str(ambient_host.PROC_DIR)

