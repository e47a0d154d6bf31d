"""A namespace's workloads and the paths around their sidecars (framework/workloads.py)."""

from egress_conformance.framework import workloads

NS = "team-a"


def meta(name, uid, owner=None, **extra):
    m = {"name": name, "namespace": NS, "uid": uid, **extra}
    if owner:
        m["ownerReferences"] = [{"uid": owner, "controller": True}]
    return m


def template(labels=None, annotations=None, **spec):
    spec.setdefault("containers", [{"name": "app", "image": "app"}])
    return {"metadata": {"labels": labels or {}, "annotations": annotations or {}}, "spec": spec}


def deployment(name, labels=None, annotations=None, **spec):
    return {"kind": "Deployment", "metadata": meta(name, f"uid-{name}"),
            "spec": {"template": template(labels or {"app": name}, annotations, **spec)}}


def pod(name, owner=None, containers=("app", "istio-proxy"), labels=None, **extra):
    return {"kind": "Pod", "metadata": meta(name, f"uid-{name}", owner, labels=labels or {}, **extra),
            "spec": {"containers": [{"name": c} for c in containers]}}


def found(objects, **mesh):
    return workloads.findings(workloads.inventory(objects), workloads.Mesh(**mesh))


def test_a_deployment_its_replica_set_and_its_pods_are_one_workload():
    objects = [deployment("web"), {"kind": "ReplicaSet", "metadata": meta("web-1", "uid-rs", "uid-web"),
                                   "spec": {"template": template()}},
               pod("web-1-a", "uid-rs"), pod("web-1-b", "uid-rs"),
               {"kind": "CronJob", "metadata": meta("nightly", "uid-cron"),
                "spec": {"jobTemplate": {"spec": {"template": template({"app": "nightly"})}}}},
               {"kind": "Job", "metadata": meta("nightly-1", "uid-job", "uid-cron"), "spec": {"template": template()}},
               pod("solo", labels={"app": "solo"}), pod("egress-conformance-client", labels={"app": "egress-conformance-client"})]
    found_workloads = workloads.inventory(objects)
    assert [str(w) for w in found_workloads] == ["CronJob team-a/nightly", "Deployment team-a/web", "Pod team-a/solo"]
    assert [p["metadata"]["name"] for p in found_workloads[1].pods] == ["web-1-a", "web-1-b"]
    assert found(objects) == ([], [])


def test_each_capture_annotation_that_lets_traffic_around_the_sidecar_is_named():
    notes = {"traffic.sidecar.istio.io/excludeOutboundPorts": "443",
             "traffic.sidecar.istio.io/excludeOutboundIPRanges": "203.0.113.0/24",
             "traffic.sidecar.istio.io/interceptionMode": "NONE"}
    paths, _ = found([deployment("web", annotations=notes)])
    assert paths == [
        "Deployment team-a/web: traffic.sidecar.istio.io/excludeOutboundPorts: 443: these ports leave around the sidecar",
        "Deployment team-a/web: traffic.sidecar.istio.io/excludeOutboundIPRanges: 203.0.113.0/24: these addresses "
        "leave around the sidecar",
        "Deployment team-a/web: traffic.sidecar.istio.io/interceptionMode: NONE: nothing is captured, every "
        "connection leaves around the sidecar"]
    narrowed, _ = found([deployment("api", annotations={"traffic.sidecar.istio.io/includeOutboundIPRanges": "10.0.0.0/8"})])
    assert narrowed == ["Deployment team-a/api: traffic.sidecar.istio.io/includeOutboundIPRanges: '10.0.0.0/8': only "
                        "10.0.0.0/8 captured, every other address leaves around the sidecar"]
    everything = {"traffic.sidecar.istio.io/includeOutboundIPRanges": "*",
                  "traffic.sidecar.istio.io/excludeOutboundPorts": ""}
    assert found([deployment("ok", annotations=everything)]) == ([], [])


def test_no_sidecar_host_network_the_proxy_uid_another_revision_and_ambient_are_each_a_path_around():
    objects = [deployment("off", annotations={"sidecar.istio.io/inject": "false"}),
               deployment("node", hostNetwork=True),
               deployment("as-proxy", containers=[{"name": "app", "securityContext": {"runAsUser": 1337}}]),
               deployment("group", securityContext={"runAsGroup": 1337}),
               deployment("canary", labels={"app": "canary", "istio.io/rev": "canary"}),
               deployment("mesh-free", labels={"app": "mesh-free", "istio.io/dataplane-mode": "ambient"}),
               pod("unmeshed", containers=("app",), labels={"app": "unmeshed"})]
    paths, _ = found(objects)
    assert [p.split(": ", 1)[0] + ": " + p.split(": ")[1] for p in paths] == [
        "Deployment team-a/as-proxy: container app runAsUser",
        "Deployment team-a/canary: istio.io/rev",
        "Deployment team-a/group: container app runAsGroup",
        "Deployment team-a/mesh-free: istio.io/dataplane-mode",
        "Deployment team-a/node: spec.hostNetwork",
        "Deployment team-a/off: sidecar.istio.io/inject",
        "Pod team-a/unmeshed: pod unmeshed runs without an istio-proxy container"]
    assert "istio/istio#54281" in paths[3]


def test_an_enforced_network_policy_covers_a_path_and_names_itself_an_unproven_one_does_not():
    policy = {"metadata": {"name": "only-in-cluster", "namespace": NS},
              "spec": {"podSelector": {"matchLabels": {"app": "off"}}, "policyTypes": ["Egress"],
                       "egress": [{"to": [{"namespaceSelector": {}}]}]}}
    objects = [deployment("off", annotations={"sidecar.istio.io/inject": "false"}), deployment("node", hostNetwork=True)]
    paths, covered = found(objects, network_policies=(policy,), policies_enforced=True)
    assert covered == ['Deployment team-a/off: sidecar.istio.io/inject: "false": no sidecar, nothing restricts its '
                       'egress: covered by NetworkPolicy team-a/only-in-cluster']
    assert paths == ["Deployment team-a/node: spec.hostNetwork: true: it sends from the node's network, where no "
                     "sidecar captures anything"]  # a pod on the node's network is not held by a NetworkPolicy
    unproven, covered = found(objects[:1], network_policies=(policy,))
    assert covered == [] and unproven[0].endswith("(NetworkPolicy team-a/only-in-cluster would block it, but this run "
                                                  "has not proven that the cluster enforces NetworkPolicy)")
    open_policy = {**policy, "spec": {**policy["spec"], "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}]}}
    assert found(objects[:1], network_policies=(open_policy,), policies_enforced=True)[1] == []


def test_a_sidecar_that_selects_a_workload_alone_decides_its_policy_by_istios_precedence():
    def sidecar(name, selector=None, mode=None, namespace=NS, created="2026-01-01T00:00:00Z"):
        spec = {**({"workloadSelector": {"labels": selector}} if selector else {}),
                **({"outboundTrafficPolicy": {"mode": mode}} if mode else {})}
        return {"metadata": {"name": name, "namespace": namespace, "creationTimestamp": created}, "spec": spec}

    objects = [deployment("web"), deployment("api")]
    namespace_wide = sidecar("default", mode="REGISTRY_ONLY")
    opens_web = sidecar("web-open", {"app": "web"}, "ALLOW_ANY")
    paths, _ = found(objects, sidecars=(namespace_wide, opens_web), mesh_policy="REGISTRY_ONLY")
    assert paths == ["Deployment team-a/web: Sidecar team-a/web-open selects it (workloadSelector) and sets ALLOW_ANY: "
                     "unknown hosts pass through its sidecar"]
    unset = sidecar("web-hosts", {"app": "web"})  # no mode of its own: the mesh config's, not the namespace Sidecar's
    paths, _ = found(objects, sidecars=(namespace_wide, unset), mesh_policy="ALLOW_ANY")
    assert paths == ["Deployment team-a/web: Sidecar team-a/web-hosts selects it (workloadSelector) and sets ALLOW_ANY "
                     "(none set: the mesh config's): unknown hosts pass through its sidecar"]
    elsewhere = sidecar("web-open", {"app": "web"}, "ALLOW_ANY", namespace="istio-system")
    assert found(objects, sidecars=(elsewhere,), mesh_policy="REGISTRY_ONLY") == ([], [])


def test_an_envoy_filter_that_selects_a_workload_alone_is_named_as_not_walked():
    envoy_filter = {"metadata": {"name": "web-tap", "namespace": NS},
                    "spec": {"workloadSelector": {"labels": {"app": "web"}}, "configPatches": []}}
    paths, _ = found([deployment("web"), deployment("api")], envoy_filters=(envoy_filter,))
    assert paths == ["Deployment team-a/web: EnvoyFilter team-a/web-tap selects it alone (workloadSelector): its "
                     "sidecar is not the probe's, and the audit has not walked it"]


def test_workloads_selected_alike_share_one_config_and_one_running_meshed_pod_is_read():
    envoy_filter = {"metadata": {"name": "web-tap", "namespace": NS},
                    "spec": {"workloadSelector": {"labels": {"app": "web"}}}}
    mesh = workloads.Mesh(envoy_filters=(envoy_filter,))
    running = dict(pod("web-a", "uid-web"), status={"phase": "Running"})
    found_workloads = workloads.inventory([deployment("web"), pod("web-pending", "uid-web"), running, deployment("api")])
    web, api = found_workloads[1], found_workloads[0]
    assert workloads.own_config(web, mesh) == ("EnvoyFilter team-a/web-tap",) and workloads.own_config(api, mesh) == ()
    assert workloads.meshed_pod(web) == "web-a" and workloads.meshed_pod(api) is None
    assert workloads.findings(found_workloads, mesh, walked=frozenset({"team-a/web"})) == ([], [])
