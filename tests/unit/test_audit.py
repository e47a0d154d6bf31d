"""The audit and the broken-mesh matrix: their pure logic, and the audit's wiring on the fake
API server (the matrix itself runs on real meshes: tests/integration, tests/cluster)."""

import json
import pathlib
import tempfile

import pytest

from egress_conformance import scenarios, waits
from egress_conformance.changes.journal import Journal
from egress_conformance.cluster import kube
from egress_conformance.fixtures import matrix
from egress_conformance.framework import effective, scope
from egress_conformance.hosts import allowlist, targets
from egress_conformance.providers import features
from egress_conformance.reports.model import Result, Step, TestResult, Verdict
from egress_conformance.run import session
from egress_conformance.scenarios import audit, broken_meshes
from egress_conformance.timing import Timing
from egress_conformance.verdicts import checks, envoy, observe
from tests import fakemesh

TARGETS = targets.from_options({}, scenarios.allow_list.DEFAULT_LIST)
TIMING = Timing(convergence_timeout=0.3, retry_interval=0.01)


@pytest.fixture(autouse=True)
def discovery_cache_in_the_tests_own_directory(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))


def audited(tmp_path, mesh_text, objects=()):
    """(the audit's failure or None, its t) on a fake mesh holding ``objects``."""
    provider = fakemesh.provider(TARGETS, mesh_text=mesh_text)
    for obj in objects:
        provider.server.namespaces.add(obj["metadata"]["namespace"])
        kube.create(provider.api(), obj)
    journal = Journal(provider.cluster(), tmp_path / "journal.json")
    with session.test_context(session.Mesh(provider, journal, TIMING), scope.NAMESPACE) as t:
        try:
            audit.run(t)
        except AssertionError as err:
            return err, t, provider
    return None, t, provider


def team_entries(namespace=fakemesh.TEST_NAMESPACE):
    entries = [allowlist.service_entry(e, f"team-{i}") for i, e in enumerate(TARGETS.allow_list)]
    for entry in entries:
        entry["metadata"]["namespace"] = namespace
        entry["spec"]["exportTo"] = ["."]
    return entries


def test_the_audit_passes_a_restricted_namespace_that_sees_exactly_its_list_and_changes_nothing(tmp_path):
    failure, t, provider = audited(tmp_path, fakemesh.RESTRICTED_MESH_TEXT, team_entries())
    assert failure is None and t.findings == []
    assert [s.verdict for s in t.steps] == ["observed", "passed", "passed", "passed", "passed"]
    assert [change for change in provider.server.history if change[0] != "create"] == []
    assert len([c for c in provider.server.history if c[0] == "create"]) == len(TARGETS.allow_list)  # the set-up's


def test_the_audit_of_an_allow_any_mesh_names_the_mesh_config_and_the_missing_hosts(tmp_path):
    failure, t, _ = audited(tmp_path, fakemesh.MESH_TEXT)
    assert failure is not None and len(t.findings) == 3
    missing, path, leak = t.findings
    assert "sidecar lacks cluster outbound|443||api.github.com and 4 more" in missing
    assert ("listener virtualOutbound, chain virtualOutbound-catchall-tcp -> PassthroughCluster (ORIGINAL_DST): "
            "passes connections through to any address (PassthroughCluster: mesh config istio-system/istio sets "
            "ALLOW_ANY)") in path
    assert ("sidecar still enforces ALLOW_ANY (catch-all -> PassthroughCluster), not REGISTRY_ONLY "
            "(PassthroughCluster: mesh config istio-system/istio sets ALLOW_ANY)") in leak


def test_the_audit_names_another_teams_entry_that_opens_an_unlisted_host(tmp_path):
    theirs = {"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
              "metadata": {"name": "example", "namespace": "other-team"},
              "spec": {"hosts": ["example.com"], "location": "MESH_EXTERNAL", "resolution": "DNS",
                       "ports": [{"number": 80, "name": "http", "protocol": "HTTP"}]}}
    failure, t, _ = audited(tmp_path, fakemesh.RESTRICTED_MESH_TEXT, [*team_entries(), theirs])
    assert failure is not None
    path, blocked = t.findings
    assert ("listener 0.0.0.0_80, chain #0, route 80, virtual host example.com:80 (example.com, example.com.), "
            "route / -> outbound|80||example.com (STRICT_DNS): endpoint example.com outside the cluster's networks, "
            "for a host the list does not name (outbound|80||example.com: ServiceEntry other-team/example "
            "(resolution DNS))") in path
    assert "GET http://example.com/get -> reachable 200, expected it blocked" in blocked


def test_the_audit_fails_on_a_team_workload_that_sends_around_its_sidecar_and_names_it(tmp_path):
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment",
                  "metadata": {"name": "billing", "namespace": fakemesh.TEST_NAMESPACE},
                  "spec": {"selector": {"matchLabels": {"app": "billing"}}, "template": {
                      "metadata": {"labels": {"app": "billing"},
                                   "annotations": {"traffic.sidecar.istio.io/excludeOutboundPorts": "80,443"}},
                      "spec": {"containers": [{"name": "app", "image": "billing"}]}}}}
    failure, t, _ = audited(tmp_path, fakemesh.RESTRICTED_MESH_TEXT, [*team_entries(), deployment])
    assert failure is not None
    [finding] = t.findings
    assert finding.endswith("no workload of namespace egress-test leaves around its sidecar: Deployment "
                            "egress-test/billing: traffic.sidecar.istio.io/excludeOutboundPorts: 80,443: these ports "
                            "leave around the sidecar")


def sidecar(clusters, unknown=envoy.BLACKHOLE, any_address=()):
    return envoy.SidecarState(unknown, "block_all", (), tuple(clusters), tuple(any_address))


def answer(url, outcome, status=None):
    return observe.Answer(observe.Request(url), outcome, status, "")


def test_a_503_is_blocked_only_when_the_sidecars_router_counted_a_missing_cluster():
    check = checks.each_blocked(["outbound|80||httpbin.org"])
    answers = (answer("http://example.net/get", observe.HTTP_ERROR, 503),)
    assert check(observe.Batch(answers, {}, sidecar([]), no_cluster=1)) is None
    assert "the others came from elsewhere" in check(observe.Batch(answers, {}, sidecar([])))


def test_a_tcp_port_keeps_connections_to_its_listed_host_or_blocks_them():
    check = checks.each_contained(["outbound|5432||db.example.org"])
    kept = observe.Batch((answer("http://example.com:5432/get", observe.RESET),), {"outbound|5432||db.example.org": 1})
    assert check(kept) is None
    out = observe.Batch((answer("http://example.com:5432/get", observe.REACHABLE, 200),), {envoy.PASSTHROUGH: 1})
    assert check(out) == "PassthroughCluster took 1: a request left for its own host"
    elsewhere = observe.Batch((answer("http://example.com:5432/get", observe.REACHABLE, 200),), {})
    assert "something outside the sidecar answered" in check(elsewhere)


def test_containment_needs_a_count_for_each_cut_and_a_listed_cluster_that_keeps_to_its_host():
    check = checks.each_contained(["outbound|5432||db.example.org"])
    unexplained = observe.Batch((answer("http://example.com:5432/get", observe.RESET),), {})
    assert check(unexplained) == ("1 connections cut off, but the sidecar refused 0 and the listed clusters carried 0: "
                                  "something outside the sidecar cut the others")
    assert check(observe.Batch(unexplained.answers, {envoy.BLACKHOLE: 1})) is None
    original_dst = observe.Batch((answer("http://example.com:5432/get", observe.REACHABLE, 200),),
                                 {"outbound|5432||db.example.org": 1},
                                 sidecar(["outbound|5432||db.example.org"], any_address=["outbound|5432||db.example.org"]))
    assert check(original_dst).startswith("cluster outbound|5432||db.example.org took 1, but it is of type ORIGINAL_DST")


class Seen:
    def __init__(self, matched):
        self.matched, self.generation = matched, (("cds", 1),)

    def summary(self):
        return f"matched={self.matched}"


def settle(sequence, consecutive=3, sticky=False):
    seen = iter(sequence)
    clock = iter(range(1000))
    return waits.until_settled(lambda: Seen(next(seen)), lambda o: None if o.matched else "no",
                               Timing(consecutive=consecutive, convergence_timeout=10), what="w", sticky=sticky,
                               clock=lambda: next(clock), sleep=lambda _: None)


def test_a_settled_verdict_either_way_ends_the_wait():
    assert settle([False, True, True, True]).attempts == 4  # a wait that is not sticky (a listed host's answer)
    with pytest.raises(waits.Refuted, match="consistently false in 3 observations"):
        settle([True, False, False, False])
    with pytest.raises(waits.NotConverged, match="kept changing"):
        settle([True, False] * 20)


def test_a_leak_seen_once_under_the_final_configuration_is_not_settled_away():
    # Changed on purpose (issue 23): the audit's leak checks are sticky; later agreeing answers
    # under the same config generation do not forget the leak seen before them.
    with pytest.raises(waits.Refuted, match="a leak seen once is a leak") as refuted:
        settle([False, True, True, True], sticky=True)
    assert refuted.value.reason == "no" and refuted.value.observation.matched is False
    with pytest.raises(waits.Refuted, match="a leak seen once is a leak"):
        settle([True, True, False, True, True, True], sticky=True)
    assert settle([True, True, True], sticky=True).attempts == 3


def test_a_leak_under_an_earlier_configuration_is_not_held_against_the_final_one():
    class Pushed(Seen):
        def __init__(self, matched, generation):
            self.matched, self.generation = matched, generation

    seen = iter([Pushed(False, 1), Pushed(True, 2), Pushed(True, 2), Pushed(True, 2)])
    clock = iter(range(1000))
    done = waits.until_settled(lambda: next(seen), lambda o: None if o.matched else "no",
                               Timing(consecutive=3, convergence_timeout=10), what="w", sticky=True,
                               clock=lambda: next(clock), sleep=lambda _: None)
    assert done.attempts == 4


def test_the_catalogue_loads_and_each_leaking_shape_says_what_must_be_named():
    shapes = broken_meshes.load()
    assert shapes[0].name == "clean-before" and shapes[-1].name == "clean-after"
    assert all(s.diagnosis for s in shapes if s.expect == broken_meshes.CAUGHT)
    assert {s.expect for s in shapes} == {broken_meshes.CAUGHT, broken_meshes.PASSES}
    wildcard = next(s for s in shapes if s.name == "wildcard-resolution-none")
    [entry] = wildcard.manifests(shared="team-b", root="istio-system")
    assert entry["metadata"]["namespace"] == "team-b"
    said = "sidecar has cluster outbound|443||*.com (outbound|443||*.com: ServiceEntry team-b/wildcard-com (resolution NONE))"
    assert wildcard.judge(True, said, shared="team-b", root="r") is None
    assert wildcard.judge(False, "", shared="team-b", root="r") == "missed: the audit passed a mesh that leaks"
    assert "wrong diagnosis" in wildcard.judge(True, "something else", shared="team-b", root="r")
    assert "false failure" in shapes[0].judge(True, "a leak")


def test_a_catalogue_entry_that_leaks_without_a_diagnosis_is_refused(tmp_path):
    bad = tmp_path / "catalogue.yaml"
    bad.write_text("- {name: x, what: y, expect: caught, objects: []}\n")
    with pytest.raises(ValueError, match="shape x"):
        broken_meshes.load(bad)


def test_the_kill_rate_counts_caught_leaks_and_false_failures():
    def result(name, outcome):
        return TestResult(f"matrix-{name}", "", "matrix", "namespace", (), (), outcome, "why",
                          (Step("matrix: x", Verdict.PASSED, detail="said"),))
    tests = [result("clean-before", Result.PASSED), result("wildcard-resolution-none", Result.PASSED),
             result("exported-to-every-namespace", Result.FAILED), result("clean-after", Result.FAILED)]
    lines, markdown = matrix.table(tests)
    assert lines[0] == "kill rate: 1/2 leaking meshes caught with the right diagnosis"
    assert lines[1].startswith("false failures: 1/2 sound meshes")
    assert markdown.count("\n") == 2 + len(tests)
    lines, _ = matrix.table([*tests, result("pod-meshed", Result.NOT_SUPPORTED),
                             result("pod-without-sidecar", Result.NOT_SUPPORTED)])
    assert lines[:3] == ["kill rate: 1/2 leaking meshes caught with the right diagnosis",
                         "false failures: 1/2 sound meshes (the clean mesh before and after among them)",
                         "no verdict: 2 shapes not run on this mesh (below)"]


def test_probe_hosts_come_from_a_file_and_a_bad_name_is_refused(tmp_path):
    given = tmp_path / "probes.txt"
    given.write_text("# ours\nmirror.example.io\n")
    assert targets.from_options({"probe_hosts": str(given)}).unlisted[-1] == "mirror.example.io"
    given.write_text("not a host!\n")
    with pytest.raises(targets.TargetError, match="--probe-hosts: not a host! is not a DNS host name"):
        targets.from_options({"probe_hosts": str(given)})


def test_the_explanation_names_only_the_clusters_of_the_hosts_a_reason_names():
    egress = effective.Egress("team-a", "REGISTRY_ONLY", "Sidecar team-a/p", (), ())
    text = "GET http://httpbin.org/get -> http-error 503, expected an answer from the host"
    served = ("outbound|80||httpbin.org", "outbound|443||pypi.org")
    assert egress.explain(text, served) == " (outbound|80||httpbin.org: no ServiceEntry or Service visible here)"
    assert egress.explain("expected reachable via PassthroughCluster", ()) == ""
    assert "yet the sidecar passes unknown hosts through" in egress.explain("PassthroughCluster took 2", ())
    assert pathlib.Path(broken_meshes.CATALOGUE).exists()


def route(name: str, parents: list[dict], backends: list[dict], hostnames: list[str] | None = None) -> dict:
    spec = {"parentRefs": parents, "rules": [{"backendRefs": backends}], **({"hostnames": hostnames} if hostnames
                                                                          else {})}
    return {"metadata": {"name": name, "namespace": "team-a"}, "spec": spec}


def test_a_gateway_api_path_names_the_http_routes_to_and_on_the_deployed_gateway():
    entry = {"metadata": {"name": "external", "namespace": "team-a"}, "spec": {"hosts": ["httpbin.org"]}}
    to_gateway = route("to-gateway", [{"group": "networking.istio.io", "kind": "ServiceEntry", "name": "external"}],
                       [{"name": "egress-istio", "port": 80}])
    elsewhere = route("elsewhere", [{"name": "egress"}], [{"kind": "Hostname", "name": "other.example", "port": 80}],
                      ["httpbin.org"])
    unrelated = route("unrelated", [{"name": "ingress"}], [{"name": "app", "port": 8080}], ["app.example"])
    egress = effective.Egress("team-a", "REGISTRY_ONLY", "Sidecar team-a/p", (), (), (entry,),
                              http_routes=(to_gateway, elsewhere, unrelated))
    assert egress.behind("outbound|80||egress-istio.team-a.svc.cluster.local") == (
        "Service team-a/egress-istio, HTTPRoute team-a/to-gateway (on ServiceEntry external -> Service egress-istio:80), "
        "HTTPRoute team-a/elsewhere (on Gateway egress for httpbin.org -> Hostname other.example:80)")
    assert egress.behind("outbound|80||httpbin.org") == (
        "ServiceEntry team-a/external (resolution NONE), HTTPRoute team-a/to-gateway (on ServiceEntry external -> "
        "Service egress-istio:80), HTTPRoute team-a/elsewhere (on Gateway egress for httpbin.org -> Hostname "
        "other.example:80)")


def test_shapes_with_real_pods_need_the_workloads_feature_which_the_local_mesh_lacks_with_its_reason(tmp_path):
    shapes = {s.name: s for s in broken_meshes.load()}
    assert shapes["pod-without-sidecar"].needs == (features.WORKLOADS,)
    assert "pod-without-sidecar" not in [s.name for s in broken_meshes.load() if not s.needs and s.pods]
    scenario = next(s for s in broken_meshes.SCENARIOS if s.name == "matrix-pod-without-sidecar")
    assert features.WORKLOADS in scenario.features
    bad = tmp_path / "catalogue.yaml"
    bad.write_text("- {name: x, what: y, expect: passes, objects: [], pods: [{name: p}]}\n")
    with pytest.raises(ValueError, match="pods need 'needs: \\[workloads\\]'"):
        broken_meshes.load(bad)


def test_the_catalogue_has_a_shape_for_each_gap_the_audit_closed():
    shapes = broken_meshes.load()
    leaking = [s for s in shapes if s.expect == broken_meshes.CAUGHT]
    assert len(shapes) >= 25 and len(leaking) >= 17 and len(shapes) - len(leaking) >= 8
    said = " ".join(word for s in leaking for word in s.diagnosis)
    for gap in ("virtual host", "(ORIGINAL_DST)", "server names", "outside the cluster's networks",
                "excludeOutboundPorts", "excludeOutboundIPRanges", "includeOutboundIPRanges", "inject",
                "hostNetwork", "runAsUser: 1337", "istio.io/rev", "dataplane-mode: ambient", "workloadSelector"):
        assert gap in said, gap


def test_a_sidecar_selecting_workloads_is_shown_with_the_egress_and_judged_only_where_it_selects_one(tmp_path):
    selecting = {"apiVersion": "networking.istio.io/v1", "kind": "Sidecar",
                 "metadata": {"name": "web-open", "namespace": fakemesh.TEST_NAMESPACE},
                 "spec": {"workloadSelector": {"labels": {"app": "web"}}, "outboundTrafficPolicy": {"mode": "ALLOW_ANY"}}}
    failure, t, _ = audited(tmp_path, fakemesh.RESTRICTED_MESH_TEXT, [*team_entries(), selecting])
    assert failure is None  # no workload of the namespace has app=web: nothing leaves through it
    assert "Sidecar egress-test/web-open selects app=web: ALLOW_ANY for those workloads" in t.steps[0].evidence


def test_a_team_pod_configured_apart_has_its_own_sidecar_walked_and_its_leak_named(tmp_path, monkeypatch):
    def obj(kind, api_version, name, **rest):
        return {"apiVersion": api_version, "kind": kind, "metadata": {"name": name, "namespace": fakemesh.TEST_NAMESPACE,
                                                                      **rest.pop("meta", {})}, **rest}

    tap = obj("EnvoyFilter", "networking.istio.io/v1alpha3", "web-tap",
              spec={"workloadSelector": {"labels": {"app": "web"}}, "configPatches": []})
    web = obj("Pod", "v1", "web-1", meta={"labels": {"app": "web"}},
              spec={"containers": [{"name": "app"}, {"name": "istio-proxy"}]}, status={"phase": "Running"})
    vhost = {"name": "mirror", "domains": ["mirror.example"], "routes": [{"match": {"prefix": "/"},
                                                                          "route": {"cluster": "PassthroughCluster"}}]}
    dump = json.dumps({"configs": [{"@type": "type.googleapis.com/envoy.admin.v3.RoutesConfigDump",
                                    "dynamic_route_configs": [{"route_config": {"name": "80", "virtual_hosts": [vhost]}}]},
                                   {"@type": "type.googleapis.com/envoy.admin.v3.ListenersConfigDump",
                                    "dynamic_listeners": [{"active_state": {"listener": {
                                        "name": "0.0.0.0_80", "filter_chains": [{"filters": [{"typed_config": {
                                            "rds": {"route_config_name": "80"}}}]}]}}}]}]})

    class TeamSidecar:
        def envoy_admin_many(self, paths):
            return [dump] + ['{"configs": []}'] * (len(paths) - 1)

    monkeypatch.setattr(fakemesh.Provider, "sidecar_of", lambda self, pod: TeamSidecar(), raising=False)
    failure, t, _ = audited(tmp_path, fakemesh.RESTRICTED_MESH_TEXT, [*team_entries(), tap, web])
    assert failure is not None
    [finding] = t.findings
    assert ("Pod egress-test/web-1 (its own sidecar, pod web-1, configured apart by EnvoyFilter egress-test/web-tap): "
            "listener 0.0.0.0_80, chain #0, route 80, virtual host mirror (mirror.example), route / -> "
            "PassthroughCluster: passes connections through to any address") in finding
    assert "has not walked it" not in finding



def test_of_two_selector_less_sidecars_the_oldest_is_judged_and_both_are_a_finding():
    """A blind shape the audit missed (docs/audit.md section 4): the team's REGISTRY_ONLY Sidecar and a
    newer one without workloadSelector setting ALLOW_ANY. istiod applies the oldest (equal times by
    name); Istio calls two of them undefined, so the audit reports both (the fake mesh does not model
    it; the catalogue shape two-namespace-sidecars runs it on a real istiod)."""
    def namespace_sidecar(name, mode, created, namespace="team-a"):
        return {"apiVersion": "networking.istio.io/v1", "kind": "Sidecar",
                "metadata": {"name": name, "namespace": namespace, "creationTimestamp": created},
                "spec": {"outboundTrafficPolicy": {"mode": mode}}}

    older, newer = (namespace_sidecar("team", "REGISTRY_ONLY", "2026-12-07T10:00:00Z"),
                    namespace_sidecar("allow-debug", "ALLOW_ANY", "2026-12-07T11:00:00Z"))
    root = namespace_sidecar("default", "REGISTRY_ONLY", "2026-12-01T10:00:00Z", "istio-system")
    ordered = effective._default_sidecars([root, newer, older], "team-a", "istio-system")
    assert ordered == [older, newer, root]
    assert effective.ambiguous(ordered) == (
        "2 Sidecars without workloadSelector in namespace team-a: team-a/team (REGISTRY_ONLY), team-a/allow-debug "
        "(ALLOW_ANY); Istio's behaviour is undefined (Sidecar reference): istiod applies the oldest, team-a/team, "
        "and another takes over when it goes",)
    assert effective.ambiguous([older, root]) == ()
    same_second = {**newer, "metadata": {**newer["metadata"], "creationTimestamp": "2026-12-07T10:00:00Z"}}
    assert effective._default_sidecars([older, same_second], "team-a", "istio-system")[0] is same_second  # by name


def test_a_virtual_service_that_routes_a_host_to_a_leaking_cluster_is_named_behind_it():
    """A blind shape caught without its object named (docs/audit.md section 4): another team's
    VirtualService sends the listed host to a host outside; the outside host's cluster leaks, and
    the VirtualService opened that path as much as the outside host's ServiceEntry did."""
    outside = {"kind": "ServiceEntry", "metadata": {"name": "outside", "namespace": "other-team"},
               "spec": {"hosts": ["outside.example"], "resolution": "STATIC"}}
    steer = {"kind": "VirtualService", "metadata": {"name": "steer", "namespace": "other-team"},
             "spec": {"hosts": ["httpbin.org"], "http": [{"route": [{"destination": {"host": "outside.example"}}]}]}}
    unrelated = {"kind": "VirtualService", "metadata": {"name": "app", "namespace": "team-a"},
                 "spec": {"hosts": ["app.example"], "tcp": [{"route": [{"destination": {"host": "app.example"}}]}]}}
    egress = effective.Egress("team-a", "REGISTRY_ONLY", "Sidecar team-a/p", (), (), (outside,),
                              routing=(steer, unrelated))
    assert egress.behind("outbound|80||outside.example") == (
        "ServiceEntry other-team/outside (resolution STATIC), VirtualService other-team/steer sends httpbin.org to it")
    assert "VirtualService" not in egress.behind("outbound|80||app.example").replace("VirtualService team-a/app", "")
    short = {**steer, "spec": {"hosts": ["httpbin.org"], "http": [{"route": [{"destination": {"host": "cache"}}]}]}}
    assert "VirtualService other-team/steer sends httpbin.org to it" in effective.Egress(
        "team-a", "REGISTRY_ONLY", "p", (), (), routing=(short,)).behind("outbound|80||cache.other-team.svc.cluster.local")


def test_a_workload_entry_a_leaking_service_entry_selects_is_named_behind_it():
    """A blind shape caught without its object named (docs/audit.md section 4): the address outside
    is in the WorkloadEntry, not in the ServiceEntry that selects it."""
    erp = {"kind": "ServiceEntry", "metadata": {"name": "erp", "namespace": "other-team"},
           "spec": {"hosts": ["erp.corp.internal"], "resolution": "STATIC", "workloadSelector": {"labels": {"app": "erp"}}}}
    vm = {"kind": "WorkloadEntry", "metadata": {"name": "erp-vm", "namespace": "other-team"},
          "spec": {"address": "198.51.100.40", "labels": {"app": "erp", "zone": "a"}}}
    elsewhere = {**vm, "metadata": {"name": "erp-vm", "namespace": "third-team"}}
    other = {**vm, "metadata": {"name": "crm-vm", "namespace": "other-team"}, "spec": {"labels": {"app": "crm"}}}
    egress = effective.Egress("team-a", "REGISTRY_ONLY", "Sidecar team-a/p", (), (), (erp,),
                              workload_entries=(vm, elsewhere, other))
    assert egress.behind("outbound|443||erp.corp.internal") == (
        "ServiceEntry other-team/erp (resolution STATIC), WorkloadEntry other-team/erp-vm (198.51.100.40)")
