"""The gateway profile on a cluster the suite did not create: both egress-gateway scenarios
pass through the node's istio-egressgateway (namespace-scoped); a gateway whose
AuthorizationPolicy refuses everything fails the "routed" step with that policy named; the
Gateway API variant passes through the gateway istiod deploys in the test namespace, and an
older HTTPRoute there that forwards the host elsewhere fails its "routed" step with that route
named; an ambient namespace is "not supported" with the reason, never a verdict."""

import pytest
import yaml
from kubernetes import client

from egress_conformance.cluster import kube
from egress_conformance.providers.existing import gateway
from tests.cluster import snapshot
from tests.cluster.conftest import cli
from tests.cluster.test_audit import existing, namespace

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
