"""The cluster's egress map (scenarios/audit/cluster_map.py) and its reports (run/egress_map_report.py):
each namespace's verdict from the API's objects, each finding naming its object."""

import dataclasses
import json

from egress_conformance.reports import report
from egress_conformance.reports.model import MeshUnderTest, Result
from egress_conformance.run import egress_map_report as egress_map
from egress_conformance.scenarios.audit import cluster_map
from egress_conformance.verdicts import paths

MESHED = {"istio-injection": "enabled"}
NETWORKS = paths.Networks(("10.0.0.0/16", "10.96.0.0/12"), frozenset({"192.168.1.10"}), frozenset())


def ns(name, labels=MESHED):
    return {"metadata": {"name": name, "labels": dict(labels)}}


def obj(kind, namespace, name, spec, **meta):
    return {"kind": kind, "metadata": {"namespace": namespace, "name": name, "uid": f"{namespace}-{name}", **meta},
            "spec": spec}


def restricting(namespace, mode="REGISTRY_ONLY", **spec):
    return obj("Sidecar", namespace, "default", {"outboundTrafficPolicy": {"mode": mode}, **spec})


def entry(namespace, name, host, port=443, protocol="TLS", resolution="DNS", **spec):
    return obj("ServiceEntry", namespace, name, {"hosts": [host], "ports": [{"number": port, "protocol": protocol,
                                                                              "name": "p"}],
                                                 "resolution": resolution, **spec})


def meshed_pod(namespace, name, **extra):
    return obj("Pod", namespace, name, {"containers": [{"name": "app"}, {"name": "istio-proxy"}], **extra},
               labels={"app": name})


def objects(**given):
    given.setdefault("networks", NETWORKS)
    return cluster_map.Objects(**given)


def rows_by_name(found, allow_list=None):
    return {r.namespace: r for r in cluster_map.build(found, allow_list)}


def test_a_restricted_namespace_that_sees_only_its_own_entries_is_sound():
    found = objects(namespaces=(ns("team-a"),), sidecars=(restricting("team-a"),),
                    service_entries=(entry("team-a", "api", "api.example.com", exportTo=["."]),),
                    workloads=(meshed_pod("team-a", "web"),))
    row = rows_by_name(found)["team-a"]
    assert row.verdict == cluster_map.Verdict.SOUND, row
    assert row.listed == ("api.example.com:443/TLS: ServiceEntry team-a/api",)
    assert row.policy_source == "Sidecar team-a/default"


def test_allow_any_from_the_mesh_config_leaks_naming_the_config_map():
    found = objects(namespaces=(ns("team-a"),), mesh_config="istio-system/istio")
    row = rows_by_name(found)["team-a"]
    assert row.verdict == cluster_map.Verdict.LEAKING
    assert row.unlisted == ("any unknown host -> PassthroughCluster: mesh config istio-system/istio sets ALLOW_ANY",)


def test_the_root_namespaces_sidecar_counts_unless_the_namespace_has_its_own():
    found = objects(namespaces=(ns("team-a"), ns("team-b")),
                    sidecars=(restricting("istio-system"), restricting("team-b", "ALLOW_ANY")))
    rows = rows_by_name(found)
    assert rows["team-a"].verdict == cluster_map.Verdict.SOUND
    assert rows["team-b"].verdict == cluster_map.Verdict.LEAKING
    assert "Sidecar team-b/default sets ALLOW_ANY" in rows["team-b"].unlisted[0]


def test_a_second_sidecar_without_selector_that_does_not_restrict_leaks_whichever_istio_picks():
    older = restricting("team-a")
    older["metadata"]["creationTimestamp"] = "2026-01-01T00:00:00Z"
    debug = obj("Sidecar", "team-a", "allow-debug", {"outboundTrafficPolicy": {"mode": "ALLOW_ANY"}},
                creationTimestamp="2026-02-01T00:00:00Z")
    row = rows_by_name(objects(namespaces=(ns("team-a"),), sidecars=(older, debug)))["team-a"]
    assert row.policy_source == "Sidecar team-a/default" and row.verdict == cluster_map.Verdict.LEAKING
    assert row.unlisted == ("any unknown host -> PassthroughCluster: Sidecar team-a/allow-debug sets ALLOW_ANY, and it is "
                            "one of 2 without workloadSelector (Sidecar team-a/default, Sidecar team-a/allow-debug): "
                            "which one applies is undefined",)


def test_another_namespaces_entry_exported_everywhere_is_unlisted_for_a_list_that_does_not_name_it():
    shared = entry("team-b", "wide", "pastebin.example", exportTo=["*"])
    found = objects(namespaces=(ns("team-a"), ns("team-c")), sidecars=(restricting("istio-system"),),
                    service_entries=(shared, entry("team-c", "own", "api.example.com", exportTo=["."])))
    rows = rows_by_name(found, allow_list=(("api.example.com", 443, "TLS"),))
    assert rows["team-a"].verdict == cluster_map.Verdict.LEAKING
    assert rows["team-a"].unlisted[0].startswith("pastebin.example:443/TLS -> ServiceEntry team-b/wide")
    assert rows["team-a"].listed == ("api.example.com:443/TLS: not opened here (no ServiceEntry it sees)",)
    assert rows["team-c"].listed == ("api.example.com:443/TLS: ServiceEntry team-c/own",)


def test_exportto_and_the_sidecars_egress_hosts_decide_what_a_namespace_sees():
    hidden = entry("team-b", "private", "x.example", exportTo=["."])
    imported_elsewhere = entry("team-d", "other", "y.example", exportTo=["*"])
    external = obj("Service", "team-d", "ext", {"type": "ExternalName", "externalName": "evil.example"})
    sidecar = restricting("team-a", egress=[{"hosts": ["./*", "istio-system/*"]}])
    found = objects(namespaces=(ns("team-a"),), sidecars=(sidecar,), service_entries=(hidden, imported_elsewhere),
                    services=(external,))
    assert rows_by_name(found, allow_list=())["team-a"].verdict == cluster_map.Verdict.SOUND
    widened = restricting("team-a", egress=[{"hosts": ["*/*"]}])
    row = rows_by_name(dataclasses.replace(found, sidecars=(widened,)), allow_list=())["team-a"]
    assert [u.split(" -> ")[1].split(" (")[0] for u in row.unlisted] == [
        "ServiceEntry team-d/other", "Service team-d/ext"], row.unlisted


def test_an_entry_of_resolution_none_sends_anywhere_on_a_tcp_port_not_on_a_tls_one():
    found = objects(namespaces=(ns("team-a"),), sidecars=(restricting("team-a"),),
                    service_entries=(entry("team-a", "tcp", "db.example", 5432, "TCP", "NONE"),
                                     entry("team-a", "tls", "api.example", 443, "TLS", "NONE")))
    row = rows_by_name(found)["team-a"]
    assert row.unlisted == ("port 5432/TCP -> ServiceEntry team-a/tcp (resolution NONE, no addresses: ORIGINAL_DST): "
                            "sends to whatever address the connection asked for",)


def test_an_internal_looking_entry_or_service_with_an_endpoint_outside_leaks():
    internal = entry("team-b", "payments", "payments.team-b.svc.cluster.local", 80, "HTTP", "STATIC",
                     location="MESH_INTERNAL", endpoints=[{"address": "203.0.113.50"}, {"address": "10.0.3.4"}])
    service = obj("Service", "team-b", "legacy", {"ports": [{"port": 80}]})
    slice_ = {"metadata": {"namespace": "team-b", "name": "legacy-1",
                           "labels": {"kubernetes.io/service-name": "legacy"}},
              "endpoints": [{"addresses": ["198.51.100.7"]}]}
    external = obj("Service", "team-b", "ext", {"type": "ExternalName", "externalName": "evil.example"})
    found = objects(namespaces=(ns("team-a"),), sidecars=(restricting("istio-system"),),
                    service_entries=(internal,), services=(service, external), endpoint_slices=(slice_,))
    row = rows_by_name(found)["team-a"]
    assert [u.split(" -> ")[1].split(":")[0] for u in row.unlisted] == [
        "ServiceEntry team-b/payments (MESH_INTERNAL)", "Service team-b/legacy (no selector)",
        "Service team-b/ext (ExternalName evil.example)"], row.unlisted
    assert "203.0.113.50" in row.unlisted[0] and "198.51.100.7" in row.unlisted[1]


def test_a_workload_around_its_sidecar_makes_the_namespace_leak_with_the_policy_that_would_cover_it():
    bypass = meshed_pod("team-a", "batch")
    bypass["metadata"]["annotations"] = {"traffic.sidecar.istio.io/excludeOutboundPorts": "443"}
    policy = obj("NetworkPolicy", "team-a", "deny-out", {"podSelector": {}, "policyTypes": ["Egress"],
                                                         "egress": [{"to": [{"podSelector": {}}]}]})
    found = objects(namespaces=(ns("team-a"),), sidecars=(restricting("team-a"),), workloads=(bypass,),
                    network_policies=(policy,))
    row = rows_by_name(found)["team-a"]
    assert row.verdict == cluster_map.Verdict.LEAKING
    assert "Pod team-a/batch" in row.around[0] and "excludeOutboundPorts: 443" in row.around[0]
    assert "NetworkPolicy team-a/deny-out would block it" in row.around[0]
    assert row.network_policies == ("NetworkPolicy team-a/deny-out selects every pod: egress to pods/namespaces",)


def test_a_template_in_a_namespace_without_injection_starts_pods_without_a_sidecar():
    template = obj("Deployment", "plain", "worker", {"replicas": 0, "template": {"metadata": {"labels": {}},
                                                                               "spec": {"containers": []}}})
    found = objects(namespaces=(ns("plain", {}),), sidecars=(restricting("istio-system"),), workloads=(template,))
    row = rows_by_name(found)["plain"]
    assert row.verdict == cluster_map.Verdict.LEAKING
    assert "namespace plain is not labelled for injection" in row.around[0]


def test_an_envoy_filter_without_a_walk_leaves_an_otherwise_sound_namespace_unjudged():
    envoy_filter = obj("EnvoyFilter", "istio-system", "tweak", {"configPatches": []})
    found = objects(namespaces=(ns("team-a"),), sidecars=(restricting("team-a"),), envoy_filters=(envoy_filter,))
    row = rows_by_name(found)["team-a"]
    assert row.verdict == cluster_map.Verdict.UNJUDGED
    assert "EnvoyFilter istio-system/tweak" in row.unjudged[0]
    walked = cluster_map.build(found, walks={"team-a": ("pod team-a/web", [])})[0]
    assert walked.verdict == cluster_map.Verdict.SOUND and walked.walked == "pod team-a/web"


def _map():
    found = objects(namespaces=(ns("leaky"), ns("sound"), ns("filtered")),
                    sidecars=(restricting("sound"), restricting("filtered")),
                    envoy_filters=(obj("EnvoyFilter", "filtered", "f", {}),))
    return cluster_map.build(found)


def test_the_report_has_one_audit_test_per_namespace_and_reads_back_as_any_report():
    rows = _map()
    measure = egress_map.Measure(1.5, 21)
    built = egress_map.as_report(rows, MeshUnderTest(provider="existing"), "2026-12-08T01:00:00+00:00", None, measure)
    saved = json.dumps(egress_map.document(built, rows, measure))
    loaded = report.load(saved)
    assert {t.name: t.result for t in loaded.tests()} == {
        "audit-map[filtered]": Result.SKIPPED, "audit-map[leaky]": Result.FAILED, "audit-map[sound]": Result.PASSED}
    assert report.recomputed(loaded).result == report.RunResult.FAILURE
    assert [n["verdict"] for n in json.loads(saved)["egressMap"]["namespaces"]] == ["unjudged", "leaking", "sound"]


def test_the_page_has_a_coloured_row_per_namespace_linking_to_its_findings():
    rows = _map()
    built = egress_map.as_report(rows, MeshUnderTest(provider="existing"), "d", None, egress_map.Measure(1, 2))
    text = egress_map.page(built, rows, egress_map.Measure(1, 2))
    assert '<a href="#ns-leaky" class="badge failed">leaking</a>' in text
    assert '<a href="#ns-sound" class="badge passed">sound</a>' in text
    assert '<a href="#ns-filtered" class="badge skipped">unjudged</a>' in text
    assert '<section id="ns-leaky"' in text and "PassthroughCluster" in text
    markdown = egress_map.summary(built, rows, egress_map.Measure(1, 2))
    assert "### Egress map: 1 of 3 namespaces leaking" in markdown and "| leaky | leaking |" in markdown


def test_the_map_refuses_a_provider_or_test_namespace_and_probe_namespace_alone_is_a_usage_error(capsys):
    from egress_conformance import cli

    assert cli.main(["audit", "--all-namespaces", "--provider", "local"]) == report.USAGE_ERROR_EXIT
    assert "map an existing cluster" in capsys.readouterr().err
    assert cli.main(["audit", "--all-namespaces", "--test-namespace", "team-a"]) == report.USAGE_ERROR_EXIT
    assert cli.main(["audit", "--all-namespaces", "--report-configmap", "x"]) == report.USAGE_ERROR_EXIT
    assert "--report-configmap: not for the egress map" in capsys.readouterr().err
    assert cli.main(["audit", "--probe-namespace", "team-a"]) == report.USAGE_ERROR_EXIT
    assert "--probe-namespace goes with --all-namespaces" in capsys.readouterr().err


def test_a_failed_behaviour_audit_makes_its_row_leaking_and_one_without_a_verdict_unjudged(tmp_path):
    from egress_conformance.run import egress_map as command

    sound = cluster_map.Row("team-a", cluster_map.Verdict.SOUND, "REGISTRY_ONLY", "Sidecar team-a/default")
    failed = command._with_probe(sound, 1, tmp_path)
    assert failed.verdict == cluster_map.Verdict.LEAKING and "failed" in failed.unlisted[-1]
    assert command._with_probe(sound, 0, tmp_path).verdict == cluster_map.Verdict.SOUND
    not_run = command._with_probe(sound, 4, tmp_path)
    assert not_run.verdict == cluster_map.Verdict.UNJUDGED and "gave no verdict (exit 4)" in not_run.unjudged[-1]
