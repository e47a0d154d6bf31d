"""Every registered scenario, in each of its scopes, run against the fake mesh (tests/fakemesh.py):
its steps, its verdicts and its clean-up are wired right. Wiring only: whether Istio really
blocks and opens what the scenarios expect is for the real runs, never for these tests."""

import collections
import dataclasses
import json
import pathlib
import tempfile

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from egress_conformance import scenarios, waits
from egress_conformance.changes.journal import Journal
from egress_conformance.cluster import kube
from egress_conformance.framework import scope
from egress_conformance.framework.handle import EgressTest
from egress_conformance.framework.scenario import CORE, EXTENDED
from egress_conformance.hosts import targets
from egress_conformance.providers import base, features
from egress_conformance.providers.base import ProviderError
from egress_conformance.run import session
from egress_conformance.timing import Timing
from egress_conformance.verdicts import envoy, faults
from tests import fakemesh

DATA = pathlib.Path(__file__).parent / "data"
TARGETS = targets.from_options({}, scenarios.allow_list.DEFAULT_LIST)
"""What a run without options calls: httpbin.org, the negative controls, the default allow-list."""
TIMING = Timing(convergence_timeout=0.3, retry_interval=0.01)
"""The fake pushes at once: a state not reached in 0.3 s is never reached."""
CASES = {case.name: case for case in scenarios.ALL
         if case.profile in (CORE, EXTENDED) and features.TLS_ORIGINATION not in case.features}
# The gateway profile needs a gateway Envoy, TLS origination an upstream TLS the fake does not
# model: they run on the local mesh and the node.
"""The scenarios that change the mesh; the audit has tests of its own below, and the broken-mesh
matrix (objects the fake does not model) runs on real meshes only."""

MESH = f"mesh config {fakemesh.ISTIO_NAMESPACE}/{fakemesh.MESH_CONFIG_MAP}"
SIDECAR = f"Sidecar {fakemesh.TEST_NAMESPACE}/{scope.POLICY_SIDECAR} (else the mesh config)"


def core_egress(where):
    return [f"API: starting policy in {where}", "0 baseline", f"API: {where} sets REGISTRY_ONLY",
            "1+2 restricted: HTTP blocked", "2 restricted: HTTPS blocked", "3 allowed: HTTP reachable",
            "3 allowed: HTTPS still blocked", "3 allowed: other host still blocked",
            "4 entry removed: HTTP blocked again", f"API: {where} sets ALLOW_ANY", "4 policy restored"]


def https_service_entry(where):
    return [f"API: starting policy in {where}", f"API: {where} sets REGISTRY_ONLY", "restricted: HTTPS blocked",
            "allowed: HTTPS reachable by SNI", "allowed: plain HTTP still blocked",
            "entry removed: HTTPS blocked again", f"API: {where} sets ALLOW_ANY"]


def allow_list_walkthrough(where):
    unlisted = [f"allowed: unlisted {host} still blocked ({protocol})"
                for host in TARGETS.unlisted for protocol in ("HTTP", "HTTPS")]
    return [f"API: starting policy in {where}", f"API: {where} sets REGISTRY_ONLY",
            "restricted: the 5 listed hosts blocked", "allowed: each of the 5 listed hosts answers via its cluster",
            *unlisted, "entries removed: the 5 listed hosts blocked again", f"API: {where} sets ALLOW_ANY"]


WALKTHROUGHS = {
    "core-egress": core_egress(MESH),
    "core-egress-in-namespace": core_egress(SIDECAR),
    "https-service-entry": https_service_entry(MESH),
    "https-service-entry-in-namespace": https_service_entry(SIDECAR),
    "sidecar-scoped-policy": [f"API: starting policy in {SIDECAR}", "namespace follows the mesh: ALLOW_ANY",
                              f"API: {MESH} sets ALLOW_ANY", "namespace Sidecar: REGISTRY_ONLY",
                              "Sidecar removed: ALLOW_ANY again"],
    "allow-list": allow_list_walkthrough(MESH),
    "allow-list-in-namespace": allow_list_walkthrough(SIDECAR),
}
"""The steps each test case records on an ALLOW_ANY mesh: its walkthrough, as the report shows it."""


@pytest.fixture(autouse=True)
def discovery_cache_in_the_tests_own_directory(tmp_path, monkeypatch):
    # The dynamic client caches discovery in the temp directory, by the API's host: so each
    # test discovers its own fake API afresh, and leaves no file behind.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))


@dataclasses.dataclass
class Run:
    """One test case run as the egress fixture runs it."""

    provider: fakemesh.Provider
    journal: Journal
    t: EgressTest
    failure: waits.NotConverged | None


def run(name: str, tmp_path, mesh=fakemesh.IstioLikeMesh, mesh_text=fakemesh.MESH_TEXT) -> Run:
    """Run test case ``name`` on a fresh fake mesh, through session.test_context (which undoes
    its changes and, on a pass, checks the mesh config is back byte for byte)."""
    provider = fakemesh.provider(TARGETS, mesh, mesh_text)
    journal = Journal(provider.cluster(), tmp_path / "journal.json")
    scenario, failure = CASES[name], None
    try:
        with session.test_context(session.Mesh(provider, journal, TIMING), scenario.scope) as t:
            scenario.execute(t)
    except waits.NotConverged as err:
        failure = err
    return Run(provider, journal, t, failure)


def assert_left_as_found(done: Run, mesh_text: str) -> None:
    server = done.provider.server
    assert server.mesh_text() == mesh_text
    assert server.objects("ServiceEntry") == server.objects("Sidecar") == []
    created = collections.Counter(change[1:] for change in server.history if change[0] == "create")
    deleted = collections.Counter(change[1:] for change in server.history if change[0] == "delete")
    assert created == deleted
    assert done.journal.entries == [] and not done.journal.path.exists()


@pytest.mark.parametrize("mesh_text", [fakemesh.MESH_TEXT, fakemesh.RESTRICTED_MESH_TEXT],
                         ids=["allow-any-mesh", "registry-only-mesh"])
@pytest.mark.parametrize("name", CASES)
def test_every_scenario_passes_on_a_mesh_that_follows_istios_rules_and_undoes_all_it_did(name, mesh_text, tmp_path):
    done = run(name, tmp_path, mesh_text=mesh_text)
    assert done.failure is None, str(done.failure)
    assert done.t.steps and all(step.verdict in ("passed", "observed") for step in done.t.steps)
    for step in (s for s in done.t.steps if s.waited):
        # Each answer came with the sidecar's config generation: the waits compared evidence, not time.
        assert step.evidence and step.observation["generation"], step.name
    assert_left_as_found(done, mesh_text)
    server = done.provider.server
    written = {(kind, namespace) for _, kind, namespace, _ in server.history}
    if CASES[name].scope == scope.NAMESPACE:
        assert {namespace for _, namespace in written} == {fakemesh.TEST_NAMESPACE}  # nothing outside it changed
        assert all(obj["spec"]["exportTo"] == ["."] for obj in server.created if obj["kind"] == "ServiceEntry")
    else:
        assert ("ConfigMap", fakemesh.ISTIO_NAMESPACE) in written


@pytest.mark.parametrize("name", CASES)
def test_the_steps_recorded_are_the_scenarios_walkthrough(name, tmp_path):
    assert [step.name for step in run(name, tmp_path).t.steps] == WALKTHROUGHS[name]


BROKEN = [
    (fakemesh.MeshThatIgnoresRegistryOnly, "core-egress", "1+2 restricted: HTTP blocked",
     "sidecar still enforces ALLOW_ANY (catch-all -> PassthroughCluster), not REGISTRY_ONLY"),
    (fakemesh.MeshThatIgnoresNamespaceSidecars, "core-egress-in-namespace", "1+2 restricted: HTTP blocked",
     "sidecar still enforces ALLOW_ANY (catch-all -> PassthroughCluster), not REGISTRY_ONLY"),
    (fakemesh.MeshThatIgnoresNamespaceSidecars, "sidecar-scoped-policy", "namespace Sidecar: REGISTRY_ONLY",
     "sidecar still enforces ALLOW_ANY (catch-all -> PassthroughCluster), not REGISTRY_ONLY"),
    (fakemesh.MeshThatKeepsDeletedClusters, "core-egress", "4 entry removed: HTTP blocked again",
     "sidecar still has cluster outbound|80||httpbin.org"),
    (fakemesh.MeshThatKeepsDeletedClusters, "https-service-entry-in-namespace", "entry removed: HTTPS blocked again",
     "sidecar still has cluster outbound|443||httpbin.org"),
    (fakemesh.MeshThatKeepsDeletedClusters, "allow-list", "entries removed: the 5 listed hosts blocked again",
     "sidecar still has cluster outbound|443||api.github.com and 4 more"),
    # Blocked by something, but not by the sidecar: its own counters must show each refusal.
    (fakemesh.MeshWhose502sComeFromElsewhere, "core-egress", "3 allowed: other host still blocked",
     "got a 502 that the port-80 listener's block_all route did not give (its counter did not move)"),
    (fakemesh.MeshWhoseTrafficBypassesTheSidecar, "allow-list", "restricted: the 5 listed hosts blocked",
     "5 requests cut off, but the sidecar refused 0 (BlackHoleCluster and listeners): something outside the "
     "sidecar cut the others"),
    # Reachable through the entry's cluster, and through another one too: not the entry alone.
    (fakemesh.MeshThatMirrorsToPassthrough, "core-egress", "3 allowed: HTTP reachable",
     "answered 200, but through PassthroughCluster, outbound|80||httpbin.org, not outbound|80||httpbin.org alone"),
]


@pytest.mark.parametrize("mesh, name, failing_step, diagnosis", BROKEN,
                         ids=[f"{mesh.__name__}-{name}" for mesh, name, _, _ in BROKEN])
def test_a_broken_mesh_fails_the_scenario_at_the_right_step_with_the_right_diagnosis(
        mesh, name, failing_step, diagnosis, tmp_path):
    done = run(name, tmp_path, mesh)
    assert done.failure is not None and done.failure.reason == diagnosis
    *before, failed = done.t.steps
    assert (failed.name, failed.verdict) == (failing_step, "failed")
    # The step's detail is the diagnosis, then what opened the outbound clusters that served, if any.
    assert failed.detail == diagnosis or failed.detail.startswith(f"{diagnosis} ("), failed.detail
    assert all(step.verdict in ("passed", "observed") for step in before)
    assert_left_as_found(done, fakemesh.MESH_TEXT)  # a failed test is cleaned up all the same


def sidecar_state_of(provider) -> envoy.SidecarState:
    return envoy.sidecar_state(*provider.workload().envoy_admin_many(list(envoy.CONFIG_PATHS)))


def service_entry(name, namespace, port=80, protocol="HTTP", hosts=("httpbin.org",), **spec):
    return {"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"hosts": list(hosts), "ports": [{"number": port, "name": protocol.lower(), "protocol": protocol}],
                     "resolution": "DNS", "location": "MESH_EXTERNAL", **spec}}


@pytest.mark.parametrize("capture, mesh_text, entries", [
    ("config_dump_allow_any", fakemesh.MESH_TEXT, []),
    ("config_dump_registry_only", fakemesh.RESTRICTED_MESH_TEXT, []),
    ("config_dump_registry_only_service_entry", fakemesh.RESTRICTED_MESH_TEXT,
     [service_entry("httpbin", fakemesh.TEST_NAMESPACE, hosts=("httpbin.org", "www.httpbin.org"))]),
])
def test_the_fakes_sidecar_reads_as_the_real_capture_of_the_same_state(capture, mesh_text, entries):
    provider = fakemesh.provider(TARGETS, mesh_text=mesh_text)
    for entry in entries:
        kube.create(provider.api(), entry)
    real = envoy.sidecar_state((DATA / f"{capture}.json").read_text())
    assert sidecar_state_of(provider) == real


@pytest.mark.parametrize("home, export_to, sidecar_hosts, visible", [
    ("elsewhere", None, None, True),
    ("elsewhere", ["."], None, False),
    (fakemesh.TEST_NAMESPACE, ["."], None, True),
    ("elsewhere", [fakemesh.TEST_NAMESPACE], None, True),
    ("elsewhere", None, ["./*", "istio-system/*"], False),
    ("elsewhere", None, ["*/httpbin.org"], True),
    ("elsewhere", None, ["*/www.httpbin.org"], False),  # admitted host by host, not entry by entry
])
def test_an_entry_reaches_the_sidecar_only_where_exported_and_admitted(home, export_to, sidecar_hosts, visible):
    provider = fakemesh.provider(TARGETS)
    provider.server.namespaces.add("elsewhere")
    extra = {"exportTo": export_to} if export_to else {}
    kube.create(provider.api(), service_entry("httpbin", home, hosts=("httpbin.org", "www.httpbin.org"), **extra))
    if sidecar_hosts:
        kube.create(provider.api(), {"apiVersion": "networking.istio.io/v1", "kind": "Sidecar",
                                     "metadata": {"name": "default", "namespace": fakemesh.TEST_NAMESPACE},
                                     "spec": {"egress": [{"hosts": sidecar_hosts}]}})
    assert ("outbound|80||httpbin.org" in sidecar_state_of(provider).clusters) == visible


def test_the_fake_refuses_what_it_does_not_model():
    provider = fakemesh.provider(TARGETS)
    with pytest.raises(fakemesh.NotModelled, match="curl option --head"):
        provider.workload().curl(["--head", "http://httpbin.org/get"], 5)
    kube.create(provider.api(), service_entry("db", fakemesh.TEST_NAMESPACE, port=5432, protocol="TCP"))
    with pytest.raises(fakemesh.NotModelled, match="protocol TCP"):
        provider.workload().envoy_admin(envoy.STATS_PATH)


def test_parallel_answers_come_back_in_any_order_and_are_matched_by_url():
    provider = fakemesh.provider(TARGETS, mesh_text=fakemesh.RESTRICTED_MESH_TEXT)
    urls = ["http://httpbin.org/get", "https://httpbin.org/get"]
    records = provider.workload().curl_many(urls, ["--cacert", fakemesh.TRUSTED_CA], 5)
    assert [(r["url"], r["exitcode"]) for r in records] == [(urls[0], 52), (urls[1], 35)]
    raw = provider.workload().exec(base.APP, ["curl", "--parallel", "--write-out", "%{json}\\n",
                                              *[w for url in urls for w in ("-o", "/dev/null", url)]], 5)
    assert [json.loads(line)["url"] for line in raw.stdout.splitlines()] == urls[::-1]


def test_the_fake_api_refuses_a_write_over_a_version_it_no_longer_holds():
    provider = fakemesh.provider(TARGETS)
    config_maps = client.CoreV1Api(provider.api())
    read = config_maps.read_namespaced_config_map(fakemesh.MESH_CONFIG_MAP, fakemesh.ISTIO_NAMESPACE)
    config_maps.patch_namespaced_config_map(read.metadata.name, read.metadata.namespace, {"data": {"mesh": "{}\n"}})
    stale = {"metadata": {"resourceVersion": read.metadata.resource_version}, "data": {"mesh": "again"}}
    with pytest.raises(ApiException) as refused:
        config_maps.patch_namespaced_config_map(read.metadata.name, read.metadata.namespace, stale)
    assert refused.value.status == 409 and provider.server.mesh_text() == "{}\n"


def test_a_blocked_step_that_failed_names_the_service_entry_behind_the_cluster_that_served(tmp_path, monkeypatch):
    # Someone's ServiceEntry, exported to every namespace, that the fixture's pre-flight check
    # did not see (it came later, or the run may not list ServiceEntries): the first step that
    # fails says which object opened the host.
    created = fakemesh.ApiServer.__init__

    def with_someones_entry(server, *args, **kwargs):
        created(server, *args, **kwargs)
        server.namespaces.add("other-team")
        server._create(fakemesh.KINDS[1], "other-team", {
            "apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
            "metadata": {"name": "httpbin", "namespace": "other-team"},
            "spec": {"hosts": ["httpbin.org"], "location": "MESH_EXTERNAL", "resolution": "DNS",
                     "ports": [{"number": 80, "name": "http", "protocol": "HTTP"}]}})

    monkeypatch.setattr(fakemesh.ApiServer, "__init__", with_someones_entry)
    done = run("core-egress", tmp_path)
    *_, failed = done.t.steps
    assert failed.name == "0 baseline" and failed.verdict == "failed"
    assert failed.detail == ("answered 200, but through outbound|80||httpbin.org, not PassthroughCluster alone "
                             "(outbound|80||httpbin.org: ServiceEntry other-team/httpbin (resolution DNS))")


def test_a_leak_is_blamed_on_the_mesh_even_while_the_target_is_down(tmp_path, monkeypatch):
    # Only a step that expected the host's answer asks the target again (tests/unit/test_target_check.py):
    # a "blocked" step that got through is a leak, whatever the target does meanwhile.
    def down(provider):
        raise ProviderError("target down: httpbin.org does not answer from outside the mesh either")

    monkeypatch.setattr(fakemesh.Provider, "check_target", down)
    done = run("core-egress", tmp_path, fakemesh.MeshThatIgnoresRegistryOnly)
    assert done.failure is not None and "restricted: HTTP blocked" in str(done.failure)
    assert faults.infrastructure_fault(ProviderError("target down: x")) == "target down: x"
