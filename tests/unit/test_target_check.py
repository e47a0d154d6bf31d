"""The live target is asked again from outside the mesh only for a step that expected its
answer: a "blocked" step's mismatch (a leak) and the audit's settled verdict are findings about
the mesh, never turned into "target down" because the target is slow at that moment."""

import pytest

from egress_conformance import scenarios, waits
from egress_conformance.changes import cleanup
from egress_conformance.changes.journal import Journal
from egress_conformance.framework.handle import EgressTest
from egress_conformance.hosts import targets
from egress_conformance.providers.base import ProviderError
from egress_conformance.timing import Timing
from egress_conformance.verdicts import checks, envoy, observe
from tests import fakemesh

TIMING = Timing(convergence_timeout=0.3, retry_interval=0.01, interval=0.0)


@pytest.fixture
def t(tmp_path, monkeypatch):
    monkeypatch.setenv("EGRESS_CONFORMANCE_STATE", str(tmp_path))
    provider = fakemesh.provider(targets.from_options({}, scenarios.allow_list.DEFAULT_LIST))
    asked = []

    def target_slow_now():
        asked.append(True)
        raise ProviderError("target down: httpbin.org did not answer from outside the mesh")

    provider.check_target = target_slow_now
    test = EgressTest(provider, cleanup.Stack(), TIMING, Journal(provider.cluster(), tmp_path / "j.json"))
    test.asked = asked
    return test


HTTP = observe.Request("http://httpbin.org/get")


def test_a_leak_in_a_blocked_step_stays_a_failed_verdict(t):
    # The fake mesh is ALLOW_ANY: the request leaks through PassthroughCluster.
    with pytest.raises(waits.NotConverged):
        t.client.expect("restricted: HTTP blocked", HTTP, checks.blocked_http())
    assert t.asked == []


def test_a_settled_mismatch_of_the_mesh_as_it_is_stays_a_finding(t):
    with pytest.raises(waits.NotConverged):
        t.client.verify("audit: unlisted blocked", lambda: t.client.probe_all([HTTP]), checks.each_blocked([envoy.BLACKHOLE]))
    assert t.asked == []


def test_a_step_that_expected_an_answer_asks_the_target_before_blaming_the_mesh(t):
    with pytest.raises(ProviderError, match="target down"):
        t.client.expect("allowed: reachable", HTTP, checks.reachable(via="outbound|80||httpbin.org"))
    assert t.asked == [True]
    both = checks.all_of(checks.reachable(via="outbound|80||httpbin.org"), checks.gateway_untouched())
    assert both.expects_answer and not checks.blocked_http().expects_answer
