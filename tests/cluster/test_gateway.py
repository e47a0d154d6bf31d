"""The gateway profile on a cluster the suite did not create: both egress-gateway scenarios
pass through the node's istio-egressgateway (namespace-scoped); a gateway whose
AuthorizationPolicy refuses everything fails the "routed" step with that policy named; the
Gateway API variant passes through the gateway istiod deploys in the test namespace, and an
older HTTPRoute there that forwards the host elsewhere fails its "routed" step with that route
named, and deploy/job.yaml's RBAC with egress-gateway.yaml's GatewayClass read is enough for it
(run as the Job's service account); an ambient namespace is "not supported" with the reason, never a verdict."""

import contextlib
import secrets

import pytest
import yaml
from kubernetes import client

from egress_conformance.cluster import kube
from egress_conformance.providers.existing import gateway
from tests.cluster import snapshot
from tests.cluster.conftest import ROOT, cli
from tests.cluster.test_audit import existing, namespace
from tests.cluster.test_test_namespace import service_account_kubeconfig

AMBIENT = "egress-conformance-ambient"
MISROUTED = "egress-conformance-misrouted"
GATEWAY_API = "egress-gateway-gateway-api-in-namespace"


def results_of(report_dir) -> dict:
    document = yaml.safe_load((report_dir / "report.yaml").read_text())
    return {t["name"]: t for p in document["profiles"] for t in p["tests"]}


def test_both_gateway_scenarios_leave_through_the_gateway(kubeconfig, api, images, tmp_path, own_journals):
    before = snapshot.take(api)
    result = cli("run", "--profile", "gateway", *existing(kubeconfig, images, tmp_path / "report"))
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    tests = results_of(tmp_path / "report")
    for name in ("egress-gateway-http-in-namespace", "egress-gateway-https-in-namespace", GATEWAY_API):
        assert tests[name]["result"] == "passed", tests[name]
        [routed] = [s for s in tests[name]["steps"] if s["step"].startswith("routed:")]
        assert "then the gateway via outbound|" in routed["evidence"], routed
    assert snapshot.differences(before, snapshot.take(api)) == []


@pytest.fixture
def gateway_denying_all(api):
    """An AuthorizationPolicy that makes the egress gateway refuse every request (RBAC: access
    denied): the gateway is on the path, and nothing leaves through it."""
    policy = {"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
              "metadata": {"name": "egress-conformance-deny-all", "namespace": "istio-system"},
              "spec": {"selector": {"matchLabels": {"istio": "egressgateway"}}, "action": "DENY",
                       "rules": [{}]}}
    kube.create(api, policy)
    try:
        yield policy
    finally:
        kube.delete_and_wait(api, policy)


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
def misrouting_namespace(api):
    """A namespace labelled for injection holding someone's HTTPRoute, older than the run's, on the
    scenario's Gateway for the host, forwarding it to a host nothing opens: of two routes that
    match alike the oldest wins, so the deployed gateway answers 500 instead of forwarding."""
    kube.create(api, namespace(MISROUTED, {"istio-injection": "enabled"}))
    try:
        kube.create(api, {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
                          "metadata": {"name": "forward-elsewhere", "namespace": MISROUTED},
                          "spec": {"parentRefs": [{"name": "egress-gateway"}], "hostnames": ["httpbin.org"],
                                   "rules": [{"backendRefs": [{"group": "networking.istio.io", "kind": "Hostname",
                                                               "name": "elsewhere.egress-conformance.invalid",
                                                               "port": 80}]}]}})
        yield MISROUTED
    finally:
        kube.delete_and_wait(api, namespace(MISROUTED))


def test_a_gateway_api_route_that_forwards_elsewhere_fails_the_routed_step_with_it_named(
        kubeconfig, api, images, tmp_path, own_journals, misrouting_namespace):
    result = cli("run", "--profile", "gateway", "--run-test", GATEWAY_API, "--convergence-timeout", "20",
                 *existing(kubeconfig, images, tmp_path / "report", "--test-namespace", misrouting_namespace))
    assert result.returncode == 1, result.stdout[-4000:] + result.stderr[-2000:]
    test = results_of(tmp_path / "report")[GATEWAY_API]
    failed = [s for s in test["steps"] if s["verdict"] == "failed"]
    assert [s["step"] for s in failed] == ["routed: HTTP leaves through the egress gateway"], failed
    assert failed[0]["detail"].startswith("expected reachable, got http-error 500"), failed[0]["detail"]
    assert (f"HTTPRoute {MISROUTED}/forward-elsewhere (on Gateway egress-gateway for httpbin.org -> Hostname "
            "elsewhere.egress-conformance.invalid:80)" in failed[0]["detail"]), failed[0]["detail"]
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
    objects = list(yaml.safe_load_all(text))
    with contextlib.ExitStack() as made:  # deleted newest first, whatever the test did
        for obj in objects:
            kube.create(api, obj)
            made.callback(kube.delete_and_wait, api, obj)
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
    # Without the rest of the opt-in the shared gateway is not looked for, and said so.
    assert "egress gateway: not looked for: the API refused to list Services cluster-wide" in result.stdout + result.stderr


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
