"""One classification of every test, decided in order (pure logic: phases' outcomes in, a result out)."""

import json

import pytest
import urllib3
from kubernetes.client.exceptions import ApiException

from egress_conformance.changes import cleanup, objects
from egress_conformance.providers.base import ProviderError
from egress_conformance.reports.model import Result
from egress_conformance.verdicts import classify, faults
from egress_conformance.verdicts.classify import Kind, Outcome

PASSED = Outcome(Kind.PASSED)
FAILED = Outcome(Kind.FAILED, "HTTP reachable, expected blocked")
FAULT = Outcome(Kind.FAULT, "API unavailable: connection refused")
REFUSED = Outcome(Kind.REFUSED, "the API refused the run (HTTP 403 Forbidden): no")
BUG = Outcome(Kind.BUG, "suite bug: KeyError: 'x'")


def refused(status: int, reason: str, message: str) -> ApiException:
    err = ApiException(status=status, reason=reason)
    err.body = json.dumps({"kind": "Status", "message": message})
    return err


@pytest.mark.parametrize("setup, call, teardown, expected", [
    (PASSED, PASSED, PASSED, (Result.PASSED, "")),
    # The body decides first: what the clean-up then hits is added beside, never in its place.
    (PASSED, FAILED, FAULT, (Result.FAILED, "HTTP reachable, expected blocked; clean-up then: API unavailable: "
                                            "connection refused")),
    (PASSED, FAULT, FAILED, (Result.INFRASTRUCTURE_ERROR, "API unavailable: connection refused; clean-up then: "
                                                          "HTTP reachable, expected blocked")),
    (PASSED, REFUSED, PASSED, (Result.NOT_RUN, REFUSED.reason)),
    (PASSED, BUG, PASSED, (Result.NOT_RUN, BUG.reason)),
    (PASSED, classify.INTERRUPTED, None, (Result.NOT_RUN, "interrupted")),
    (PASSED, classify.INTERRUPTED, classify.INTERRUPTED, (Result.NOT_RUN, "interrupted")),
    (PASSED, FAILED, classify.INTERRUPTED, (Result.FAILED, f"{FAILED.reason}; clean-up then: interrupted")),
    (PASSED, PASSED, classify.INTERRUPTED, (Result.NOT_RUN, "interrupted")),
    (PASSED, None, None, (Result.NOT_RUN, "interrupted")),  # the signal's KeyboardInterrupt leaves no report
    # Only a body that passed lets the clean-up decide.
    (PASSED, PASSED, FAILED, (Result.FAILED, "clean-up failed: HTTP reachable, expected blocked")),
    (PASSED, PASSED, FAULT, (Result.INFRASTRUCTURE_ERROR, "during clean-up: API unavailable: connection refused")),
    (PASSED, PASSED, BUG, (Result.NOT_RUN, "during clean-up: suite bug: KeyError: 'x'")),
    (PASSED, PASSED, None, (Result.NOT_RUN, "interrupted")),
    # A body that never ran gives no egress verdict.
    (FAILED, None, PASSED, (Result.NOT_RUN, FAILED.reason)),
    (BUG, None, PASSED, (Result.NOT_RUN, BUG.reason)),
    (FAULT, None, PASSED, (Result.INFRASTRUCTURE_ERROR, FAULT.reason)),
    (Outcome(Kind.SKIPPED, "--skip-test x"), None, PASSED, (Result.SKIPPED, "--skip-test x")),
])
def test_the_result_is_decided_from_the_phases_in_order(setup, call, teardown, expected):
    assert classify.decide(setup, call, teardown) == expected


def test_a_test_never_started_is_not_run_and_says_why():
    assert classify.decide(None, None, None) == (Result.NOT_RUN, "the run ended before this test started")
    assert classify.decide(None, None, None, interrupted=True) == (Result.NOT_RUN, "interrupted")


def test_a_result_a_fixture_decided_before_the_body_stands():
    decided = (Result.NOT_SUPPORTED, "the local provider lacks feature egress-gateway")
    assert classify.decide(Outcome(Kind.SKIPPED, "x"), None, PASSED, decided=decided) == decided


@pytest.mark.parametrize("err, kind, reason", [
    (AssertionError("HTTP reachable, expected blocked"), Kind.FAILED, "the message"),
    (cleanup.CleanupFailed("delete ServiceEntry ns/x: conflict"), Kind.FAILED, "the message"),
    (ProviderError("sidecar not ready: envoy exited"), Kind.FAULT, "sidecar not ready: envoy exited"),
    (urllib3.exceptions.MaxRetryError(None, "/api", "refused"), Kind.FAULT, "API unavailable: "),
    (refused(403, "Forbidden", 'serviceentries.networking.istio.io is forbidden: User "ci" cannot create'),
     Kind.REFUSED, 'the API refused the run (HTTP 403 Forbidden): serviceentries.networking.istio.io is forbidden: '
                   'User "ci" cannot create; grant the run\'s account this right'),
    (refused(401, "Unauthorized", "Unauthorized"), Kind.REFUSED, "refresh the kubeconfig's credentials"),
    (refused(409, "Conflict", 'serviceentries "httpbin.org" already exists'), Kind.REFUSED,
     'serviceentries "httpbin.org" already exists; an object someone else holds is in the way'),
    (objects.InvalidObject("ServiceEntry x is invalid, the API refused it: bad; fix the manifest"), Kind.REFUSED,
     "ServiceEntry x is invalid"),
    (faults.Unsupported("NetworkPolicy not enforced: a pod still got out"), Kind.NOT_SUPPORTED,
     "NetworkPolicy not enforced: a pod still got out"),
    (KeyError("missing"), Kind.BUG, "suite bug: KeyError: 'missing'"),
    (TypeError(), Kind.BUG, "suite bug: TypeError: no message"),
])
def test_each_error_is_classified_once(err, kind, reason):
    outcome = classify.of_error(err, "the message", interrupted=False)
    assert outcome.kind == kind and reason in outcome.reason and "\n" not in outcome.reason


def test_anything_raised_once_a_signal_arrived_is_the_interruption_never_a_broken_mesh():
    cut = ProviderError("sidecar not ready: the exec was cut")
    assert classify.of_error(cut, "", interrupted=True) == classify.INTERRUPTED
    assert faults.infrastructure_fault(cut)  # without the signal it would be a fault


def test_a_refusal_or_a_bug_is_not_an_infrastructure_fault():
    assert faults.infrastructure_fault(refused(403, "Forbidden", "no")) is None
    assert faults.refusal(ApiException(status=404, reason="Not Found")) is None
    assert faults.refusal(ApiException(status=503, reason="Service Unavailable")) is None


def test_errors_raised_together_are_classified_by_the_one_that_says_most_about_the_mesh():
    group = BaseExceptionGroup("errors during test teardown", [
        cleanup.CleanupFailed("stop the local mesh: boom"),
        ExceptionGroup("errors while tearing down", [KeyError("x"), ProviderError("API unavailable: down")])])
    assert classify.of_error(group, "", interrupted=False) == Outcome(
        Kind.FAILED, "stop the local mesh: boom (and 1 more error)")
    faults_only = BaseExceptionGroup("teardown", [KeyError("x"), ProviderError("API unavailable: down")])
    assert classify.of_error(faults_only, "", interrupted=False) == Outcome(
        Kind.FAULT, "API unavailable: down (and 1 more error)")


def test_a_body_that_found_a_feature_missing_is_not_supported_never_a_pass_or_a_failure():
    found = Outcome(Kind.NOT_SUPPORTED, "NetworkPolicy not enforced: x")
    assert classify.decide(PASSED, found, PASSED) == (Result.NOT_SUPPORTED, "NetworkPolicy not enforced: x")
