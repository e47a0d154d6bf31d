"""egress-bypass on a cluster the suite did not create (the node, whose kube-router enforces
NetworkPolicy): it passes, the gateway path working under the policy, and names each path
around the sidecar that got out before the policy as a finding; the cluster reads back as
before. A gateway that forwards an unlisted host (someone's catch-all Gateway server and a
VirtualService sending example.com on to the listed host's cluster) fails the "refused"
step for that Host header, naming the answer; so does one whose VirtualService sends the unlisted
host to a path of the listed host that answers 404 (a 404 from further on, which the gateway's
no_route counter shows is not its own refusal). (With kube-router stopped the same run is "not supported: NetworkPolicy not enforced";
that needs the node's daemon stopped, so it is not a test here: docs/scenarios.md, egress-bypass.)"""

import pytest
import yaml

from tests.cluster import snapshot
from tests.cluster.conftest import cli, existing_objects
from tests.cluster.test_audit import existing

PATHS = ('a pod without a sidecar (sidecar.istio.io/inject: "false")', "a container running as the proxy's uid 1337",
         "a pod annotated traffic.sidecar.istio.io/excludeOutboundIPRanges")


def test_every_bypass_is_blocked_by_the_policy_and_each_open_one_is_named_without_it(
        kubeconfig, api, images, tmp_path, own_journals):
    before = snapshot.take(api)
    result = cli("run", "--profile", "gateway", "--run-test", "egress-bypass",
                 *existing(kubeconfig, images, tmp_path / "report"))
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    document = yaml.safe_load((tmp_path / "report" / "report.yaml").read_text())
    [test] = [t for p in document["profiles"] for t in p["tests"] if t["name"] == "egress-bypass"]
    assert test["result"] == "passed", test
    steps = {s["step"]: s for s in test["steps"]}
    for path in PATHS:
        [before_policy] = [s for name, s in steps.items() if name.startswith(f"no NetworkPolicy: {path}")]
        assert before_policy["detail"] == "answered: yes", before_policy
        [blocked] = [s for name, s in steps.items() if name.startswith(f"NetworkPolicy: {path}")]
        assert blocked["verdict"] == "passed", blocked
        assert any(f.startswith(f"egress bypass: {path}") for f in document["findings"]), document["findings"]
    assert steps["NetworkPolicy: HTTP still leaves through the egress gateway"]["verdict"] == "passed"
    refused = [s for name, s in steps.items() if name.startswith("gateway reached straight") and "refused" in name]
    assert len(refused) == 2 and all(s["verdict"] == "passed" for s in refused), refused
    assert snapshot.differences(before, snapshot.take(api)) == []


@pytest.fixture
def gateway_forwarding_an_unlisted_host(api):
    """A Gateway server for every host on the egress gateway's port 80 and a VirtualService that
    sends example.com (unlisted) on to httpbin.org's cluster, which the run's ServiceEntry
    exports to the gateway's namespace: the gateway answers for a host nobody listed."""
    objects = [
        {"apiVersion": "networking.istio.io/v1", "kind": "Gateway",
         "metadata": {"name": "egress-conformance-catch-all", "namespace": "istio-system"},
         "spec": {"selector": {"istio": "egressgateway"},
                  "servers": [{"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["*"]}]}},
        {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
         "metadata": {"name": "egress-conformance-forward-unlisted", "namespace": "istio-system"},
         "spec": {"hosts": ["example.com"], "gateways": ["egress-conformance-catch-all"], "exportTo": ["."],
                  "http": [{"route": [{"destination": {"host": "httpbin.org", "port": {"number": 80}}}]}]}},
    ]
    with existing_objects(api, *objects):
        yield objects


def test_a_gateway_answering_for_an_unlisted_host_fails_the_refused_step(kubeconfig, api, images, tmp_path,
                                                                         own_journals,
                                                                         gateway_forwarding_an_unlisted_host):
    result = cli("run", "--profile", "gateway", "--run-test", "egress-bypass", "--convergence-timeout", "20",
                 *existing(kubeconfig, images, tmp_path / "report"))
    assert result.returncode == 1, result.stdout[-4000:] + result.stderr[-2000:]
    document = yaml.safe_load((tmp_path / "report" / "report.yaml").read_text())
    [test] = [t for p in document["profiles"] for t in p["tests"] if t["name"] == "egress-bypass"]
    failed = [s for s in test["steps"] if s["verdict"] == "failed"]
    assert [s["step"] for s in failed] == ["gateway reached straight, Host example.com: refused"], failed
    assert failed[0]["detail"].startswith("expected the gateway to refuse it, got 200"), failed[0]["detail"]


@pytest.fixture
def gateway_passing_on_a_404(api):
    """The catch-all Gateway server of gateway_forwarding_an_unlisted_host, and a VirtualService that
    sends example.com (unlisted) to a path httpbin.org does not serve: the 404 comes from the host, through
    the gateway, and looks like the gateway's own "no route" unless the gateway's counter is read."""
    objects = [
        {"apiVersion": "networking.istio.io/v1", "kind": "Gateway",
         "metadata": {"name": "egress-conformance-catch-all", "namespace": "istio-system"},
         "spec": {"selector": {"istio": "egressgateway"},
                  "servers": [{"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["*"]}]}},
        {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
         "metadata": {"name": "egress-conformance-upstream-404", "namespace": "istio-system"},
         "spec": {"hosts": ["example.com"], "gateways": ["egress-conformance-catch-all"], "exportTo": ["."],
                  "http": [{"rewrite": {"uri": "/egress-conformance-no-such-path/", "authority": "httpbin.org"},
                            "route": [{"destination": {"host": "httpbin.org", "port": {"number": 80}}}]}]}},
    ]
    with existing_objects(api, *objects):
        yield objects


def test_a_404_from_the_host_behind_the_gateway_is_not_the_gateways_refusal(kubeconfig, api, images, tmp_path,
                                                                           own_journals, gateway_passing_on_a_404):
    result = cli("run", "--profile", "gateway", "--run-test", "egress-bypass", "--convergence-timeout", "20",
                 *existing(kubeconfig, images, tmp_path / "report"))
    assert result.returncode == 1, result.stdout[-4000:] + result.stderr[-2000:]
    document = yaml.safe_load((tmp_path / "report" / "report.yaml").read_text())
    [test] = [t for p in document["profiles"] for t in p["tests"] if t["name"] == "egress-bypass"]
    failed = [s for s in test["steps"] if s["verdict"] == "failed"]
    assert [s["step"] for s in failed] == ["gateway reached straight, Host example.com: refused"], failed
    assert failed[0]["detail"].startswith(
        "a 404, but the gateway counted no no_route: not its own refusal (it sent through outbound|80||httpbin.org"
    ), failed[0]["detail"]
