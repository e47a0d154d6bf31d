"""The gateway profile on a cluster the suite did not create: every gateway scenario passes
through the node's istio-egressgateway, namespace-scoped and mesh-wide. Each keeps a broken gateway that
makes it fail at the right step: an AuthorizationPolicy refusing everything fails
egress-gateway-http's "routed" step with that policy named; an EnvoyFilter that strips the
gateway's RBAC filter fails egress-gateway-authz where the second service account must be
refused; someone's DestinationRule in the gateway's namespace that turns TLS off fails
tls-origination-gateway's "originated" step (the host's 400: it came plain) and
tls-origination-mutual's MUTUAL step (refused by a host that speaks only TLS); someone's older
HTTPRoute on egress-gateway-gateway-api's Gateway forwarding the host elsewhere fails its
"routed" step with that route named. A gateway run SIGKILLed mid-test is undone by restore,
in the gateway's namespace too. deploy/job.yaml's RBAC with egress-gateway.yaml's
GatewayClass read is enough for the Gateway API variant (run as the Job's service account). An
ambient namespace is "not supported" with the reason, never a verdict."""

import secrets

import pytest
import yaml
from kubernetes import client

from egress_conformance.cluster import kube
from egress_conformance.providers.existing import gateway
from tests import killing
from tests.cluster import snapshot
from tests.cluster.conftest import ROOT, cli, existing_objects
from tests.cluster.test_audit import existing, namespace
from tests.cluster.test_test_namespace import service_account_kubeconfig

AMBIENT = "egress-conformance-ambient"
MISROUTED = "egress-conformance-misrouted"
GATEWAY_API = "egress-gateway-gateway-api-in-namespace"


def results_of(report_dir) -> dict:
    document = yaml.safe_load((report_dir / "report.yaml").read_text())
    return {t["name"]: t for p in document["profiles"] for t in p["tests"]}


def test_every_gateway_scenario_leaves_through_the_gateway(kubeconfig, api, images, tmp_path, own_journals):
    before = snapshot.take(api)
    result = cli("run", "--profile", "gateway", *existing(kubeconfig, images, tmp_path / "report"))
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    tests = results_of(tmp_path / "report")
    for name in ("egress-gateway-http-in-namespace", "egress-gateway-https-in-namespace",
                 "tls-origination-gateway-in-namespace", GATEWAY_API):
        assert tests[name]["result"] == "passed", tests[name]
        [routed] = [s for s in tests[name]["steps"] if s["step"].startswith("routed")]
        assert "then the gateway via outbound|" in routed["evidence"], routed
    # These write into the gateway's namespace (an AuthorizationPolicy, a Secret): consent first, in every form.
    for name in ("egress-gateway-authz-in-namespace", "tls-origination-mutual-in-namespace"):
        assert tests[name]["result"] == "skipped", tests[name]
        assert "needs --allow-mesh-wide-changes: it writes" in str(tests[name]), tests[name]
    assert snapshot.differences(before, snapshot.take(api)) == []


def test_the_gateway_scenarios_pass_mesh_wide_and_leave_the_mesh_config_as_it_was(kubeconfig, api, images, tmp_path,
                                                                                   own_journals):
    before = snapshot.take(api)
    mesh_wide = ("egress-gateway-http", "egress-gateway-https", "egress-gateway-authz", "tls-origination-gateway",
                 "tls-origination-mutual", "egress-gateway-gateway-api", "egress-gateway-authz-in-namespace",
                 "tls-origination-mutual-in-namespace")
    result = cli("run", "--profile", "gateway", "--allow-mesh-wide-changes",
                 *(arg for name in mesh_wide for arg in ("--run-test", name)),
                 *existing(kubeconfig, images, tmp_path / "report"))
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    tests = results_of(tmp_path / "report")
    assert {name: tests[name]["result"] for name in mesh_wide} == dict.fromkeys(mesh_wide, "passed")
    assert snapshot.differences(before, snapshot.take(api)) == []


OUTSIDE_CONSENT = "--allow-mesh-wide-changes"
"""What a scenario that writes into the gateway's namespace needs in every form (Scenario.writes_outside)."""


def test_a_gateway_run_killed_mid_test_is_undone_by_restore_in_the_gateways_namespace_too(
        kubeconfig, api, images, tmp_path, own_journals):
    before = snapshot.take(api)
    # It writes into the gateway's namespace: consent, as for every form of it (issue 26, item 1).
    killing.kill_at(["run", "--profile", "gateway", "--run-test", "egress-gateway-authz-in-namespace",
                     *existing(kubeconfig, images, tmp_path / "report", OUTSIDE_CONSENT)],
                    "applied AuthorizationPolicy istio-system/",
                    cwd=ROOT)
    left = snapshot.differences(before, snapshot.take(api))
    assert any(line.startswith("istio_objects: [('AuthorizationPolicy', 'istio-system'") for line in left), left
    restored = cli("restore", "--kubeconfig", str(kubeconfig))
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert "deleted AuthorizationPolicy istio-system/egress-conformance-" in restored.stdout, restored.stdout
    assert snapshot.differences(before, snapshot.take(api)) == []


@pytest.fixture
def gateway_denying_all(api):
    """An AuthorizationPolicy that makes the egress gateway refuse every request (RBAC: access
    denied): the gateway is on the path, and nothing leaves through it."""
    policy = {"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
              "metadata": {"name": "egress-conformance-deny-all", "namespace": "istio-system"},
              "spec": {"selector": {"matchLabels": {"istio": "egressgateway"}}, "action": "DENY",
                       "rules": [{}]}}
    with existing_objects(api, policy):
        yield policy


def test_a_gateway_that_refuses_fails_the_routed_step_with_its_policy_named(
        kubeconfig, api, images, tmp_path, own_journals, gateway_denying_all):
    result = cli("run", "--profile", "gateway", "--run-test", "egress-gateway-http-in-namespace",
                 "--convergence-timeout", "20", *existing(kubeconfig, images, tmp_path / "report"))
    assert result.returncode == 1, result.stdout[-4000:] + result.stderr[-2000:]
    test = results_of(tmp_path / "report")["egress-gateway-http-in-namespace"]
    failed = [s for s in test["steps"] if s["verdict"] == "failed"]
    assert [s["step"] for s in failed] == ["routed: HTTP leaves through the egress gateway"], failed
    assert failed[0]["detail"].startswith("expected reachable, got http-error 403"), failed[0]["detail"]
    assert ("AuthorizationPolicy istio-system/egress-conformance-deny-all (DENY) applies in istio-system"
            in failed[0]["detail"]), failed[0]["detail"]


@pytest.fixture
def gateway_without_rbac(api):
    """An EnvoyFilter that removes Istio's RBAC filter from the egress gateway's HTTP chains:
    every AuthorizationPolicy of the gateway is then silently ignored."""
    envoy_filter = {
        "apiVersion": "networking.istio.io/v1alpha3", "kind": "EnvoyFilter",
        "metadata": {"name": "egress-conformance-strip-rbac", "namespace": "istio-system"},
        "spec": {"workloadSelector": {"labels": {"istio": "egressgateway"}},
                 "configPatches": [{"applyTo": "HTTP_FILTER",
                                    "match": {"context": "GATEWAY", "listener": {"filterChain": {"filter": {
                                        "name": "envoy.filters.network.http_connection_manager",
                                        "subFilter": {"name": "envoy.filters.http.rbac"}}}}},
                                    "patch": {"operation": "REMOVE"}}]}}
    with existing_objects(api, envoy_filter):
        yield envoy_filter


def test_a_gateway_that_ignores_its_policy_fails_the_refusal_step(kubeconfig, api, images, tmp_path, own_journals,
                                                                   gateway_without_rbac):
    fails_at(kubeconfig, images, tmp_path, "egress-gateway-authz-in-namespace",
             "policy: service account other-client is refused by the gateway",
             "expected the gateway's 403 (RBAC: access denied), got reachable 200", OUTSIDE_CONSENT)


@pytest.fixture
def gateway_rule_turning_tls_off(api):
    """Someone's DestinationRule for the host in the gateway's namespace, TLS off: for the
    gateway's own Envoy it outranks the test namespace's rule (Istio looks in the proxy's
    namespace first)."""
    rule = {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
            "metadata": {"name": "egress-conformance-plain-httpbin", "namespace": "istio-system"},
            "spec": {"host": "httpbin.org", "exportTo": ["."], "trafficPolicy": {"tls": {"mode": "DISABLE"}}}}
    with existing_objects(api, rule):
        yield rule


@pytest.mark.parametrize("name, step, detail", [
    ("tls-origination-gateway-in-namespace", "originated: the gateway speaks TLS to the host, which answers",
     "expected reachable, got http-error 400"),
    ("tls-origination-mutual-in-namespace", "MUTUAL: the host verifies the gateway's client certificate and answers",
     "expected reachable, got http-error 503"),
])
def test_a_gateway_whose_rule_turns_tls_off_fails_the_originated_step(kubeconfig, api, images, tmp_path, own_journals,
                                                                      gateway_rule_turning_tls_off, name, step, detail):
    fails_at(kubeconfig, images, tmp_path, name, step, detail, OUTSIDE_CONSENT)


def fails_at(kubeconfig, images, tmp_path, name: str, step: str, detail: str, *extra: str) -> dict:
    """Run one gateway scenario (run options ``extra``) that must fail at ``step`` alone, its detail
    starting with ``detail``; return that step."""
    result = cli("run", "--profile", "gateway", "--run-test", name, "--convergence-timeout", "20",
                 *existing(kubeconfig, images, tmp_path / "report", *extra))
    assert result.returncode == 1, result.stdout[-4000:] + result.stderr[-2000:]
    failed = [s for s in results_of(tmp_path / "report")[name]["steps"] if s["verdict"] == "failed"]
    assert [s["step"] for s in failed] == [step], failed
    assert failed[0]["detail"].startswith(detail), failed[0]["detail"]
    return failed[0]


@pytest.fixture
def misrouting_namespace(api):
    """A namespace labelled for injection holding someone's HTTPRoute, older than the run's, on the
    scenario's Gateway for the host, forwarding it to a host nothing opens: of two routes that
    match alike the oldest wins, so the deployed gateway answers 500 instead of forwarding."""
    route = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
             "metadata": {"name": "forward-elsewhere", "namespace": MISROUTED},
             "spec": {"parentRefs": [{"name": "egress-gateway"}], "hostnames": ["httpbin.org"],
                      "rules": [{"backendRefs": [{"group": "networking.istio.io", "kind": "Hostname",
                                                  "name": "elsewhere.egress-conformance.invalid", "port": 80}]}]}}
    with existing_objects(api, namespace(MISROUTED, {"istio-injection": "enabled"}), route):
        yield MISROUTED


def test_a_gateway_api_route_that_forwards_elsewhere_fails_the_routed_step_with_it_named(
        kubeconfig, api, images, tmp_path, own_journals, misrouting_namespace):
    failed = fails_at(kubeconfig, images, tmp_path, GATEWAY_API, "routed: HTTP leaves through the egress gateway",
                      "expected reachable, got http-error 500", "--test-namespace", misrouting_namespace)
    assert (f"HTTPRoute {MISROUTED}/forward-elsewhere (on Gateway egress-gateway for httpbin.org -> Hostname "
            "elsewhere.egress-conformance.invalid:80)" in failed["detail"]), failed["detail"]
    left = {r["metadata"]["name"] for r in kube.list_in(api, "gateway.networking.k8s.io/v1", "HTTPRoute", MISROUTED)}
    assert left == {"forward-elsewhere"}, left  # the run removed its own routes, and only those
    assert kube.list_in(api, "gateway.networking.k8s.io/v1", "Gateway", MISROUTED) == []
    deployed = client.CoreV1Api(api).list_namespaced_pod(MISROUTED, label_selector=f"{gateway.GATEWAY_NAME_LABEL}="
                                                         "egress-gateway").items
    assert deployed == [], [p.metadata.name for p in deployed]


@pytest.fixture
def gateway_api_job_rbac(api):
    """deploy/job.yaml without its Job, and of deploy/egress-gateway.yaml only the GatewayClass read,
    each name given a suffix of its own (a Job of the suite may hold the names on a shared cluster)."""
    documents = [d for d in yaml.safe_load_all((ROOT / "deploy" / "job.yaml").read_text()) if d and d["kind"] != "Job"]
    opt_in = [d for d in yaml.safe_load_all((ROOT / "deploy" / "egress-gateway.yaml").read_text())
              if d and d["kind"] in ("ClusterRole", "ClusterRoleBinding")]
    for document in opt_in:
        document["rules"] = [r for r in document.get("rules", []) if "gatewayclasses" in r["resources"]]
    text, suffix = yaml.safe_dump_all([*documents, *opt_in]), secrets.token_hex(3)
    for name in ("egress-conformance-runner", "egress-conformance-test", "egress-conformance-discovery",
                 "egress-conformance-istiod-reader", "egress-conformance-gateway-discovery"):
        text = text.replace(name, f"{name}-{suffix}")
    with existing_objects(api, *yaml.safe_load_all(text)) as objects:
        yield objects


def test_the_jobs_rbac_and_the_gatewayclass_read_are_enough_for_the_gateway_api_variant(
        kubeconfig, api, images, tmp_path, own_journals, gateway_api_job_rbac):
    account = next(d for d in gateway_api_job_rbac if d["kind"] == "ServiceAccount")
    test_namespace = next(d["metadata"]["name"] for d in gateway_api_job_rbac if d["kind"] == "Namespace"
                          and (d["metadata"].get("labels") or {}).get("istio-injection") == "enabled")
    as_job = service_account_kubeconfig(kubeconfig, api, account, tmp_path / "job-kubeconfig")
    result = cli("run", "--profile", "gateway", "--run-test", GATEWAY_API,
                 *existing(as_job, images, tmp_path / "report", "--test-namespace", test_namespace))
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert results_of(tmp_path / "report")[GATEWAY_API]["result"] == "passed"
    # The shared gateway is found with the Job's RBAC alone: the audit's walk lists Services
    # cluster-wide and the istiod reader lists pods in istiod's namespace, where the node's gateway
    # runs; using it (its pod's channels, its namespace's objects) is still egress-gateway.yaml's.
    assert "egress gateway: istio-egressgateway.istio-system.svc.cluster.local (pod" in result.stdout + result.stderr


def test_an_ambient_namespace_is_not_supported_with_the_reason(kubeconfig, api, images, tmp_path, own_journals):
    kube.create(api, namespace(AMBIENT, {"istio.io/dataplane-mode": "ambient"}))
    try:
        result = cli("run", "--profile", "core", "--test-namespace", AMBIENT,
                     *existing(kubeconfig, images, tmp_path / "report"))
    finally:
        kube.delete_and_wait(api, namespace(AMBIENT))
    assert result.returncode == 3, result.stdout[-4000:] + result.stderr[-2000:]
    for test in results_of(tmp_path / "report").values():
        assert test["result"] in ("not-supported", "skipped"), test
        if test["result"] == "not-supported":
            assert f"namespace {AMBIENT} is ambient" in test["reason"], test["reason"]
