from egress_conformance import scenarios
from egress_conformance.cluster import clusterinfo
from egress_conformance.framework import scope
from egress_conformance.providers import features
from egress_conformance.reports import report
from egress_conformance.reports.model import Result, RunResult, TestResult


def test_namespace_scoped_service_entries_are_exported_to_their_namespace_only():
    entry = {"kind": "ServiceEntry", "spec": {"hosts": ["httpbin.org"]}}
    mesh = scope.MeshWide(api=None, config_map=("istio-system", "istio"), journal=None, undo=None)
    namespaced = scope.Namespace(api=None, namespace="ns", mesh=mesh, create=None)
    assert namespaced.adapt(dict(entry, spec=dict(entry["spec"])))["spec"]["exportTo"] == ["."]
    assert "exportTo" not in mesh.adapt(dict(entry, spec=dict(entry["spec"])))["spec"]


def test_the_policy_sidecar_sets_only_the_policy():
    sidecar = scope.policy_sidecar("ns", "REGISTRY_ONLY")
    assert sidecar["spec"] == {"egress": [{"hosts": ["*/*"]}], "outboundTrafficPolicy": {"mode": "REGISTRY_ONLY"}}


def test_a_mesh_wide_scenario_also_runs_in_its_namespace_form_with_a_sidecar_instead():
    cases = {case.name: case for case in scenarios.ALL}
    assert cases["core-egress"].scope == scope.MESH_WIDE
    namespaced = cases["core-egress-in-namespace"]
    assert namespaced.scope == scope.NAMESPACE
    assert features.MESH_WIDE_POLICY not in namespaced.features and features.SIDECAR_SCOPED_POLICY in namespaced.features
    assert cases["sidecar-scoped-policy"].scope == scope.NAMESPACE


def test_tests_outside_the_claimed_scopes_do_not_make_a_profile_partial():
    tests = [TestResult("a", "", "core", scope.MESH_WIDE, (), (), Result.SKIPPED),
             TestResult("a-in-namespace", "", "core", scope.NAMESPACE, (), (), Result.PASSED)]
    narrow = report.build(date="d", mesh=None, not_run_reason=None, tests=tests, evidence_dir="e",
                          claimed_scopes=[scope.NAMESPACE])
    assert narrow.result == RunResult.SUCCESS and narrow.to_dict()["claim"] == {"scopes": ["namespace"]}
    assert narrow.profiles[0].summary[Result.SKIPPED] == 1
    wide = report.build(date="d", mesh=None, not_run_reason=None, tests=tests, evidence_dir="e")
    assert wide.result == RunResult.PARTIAL


def test_istiods_version_text_keeps_dashes_of_the_version_itself():
    assert clusterinfo.istio_version("1.31-dev+eed52ebb66ad-unknown-unknown\n") == "1.31-dev+eed52ebb66ad"
    assert clusterinfo.istio_version("1.30.2-0c3e5b1-Clean") == "1.30.2"
