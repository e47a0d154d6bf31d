"""Which errors are a broken mesh (pure classification)."""

import urllib3
from kubernetes.client.exceptions import ApiException

from egress_conformance.providers.base import ProviderError
from egress_conformance.verdicts import faults


def test_provider_errors_and_an_unreachable_api_are_faults_and_one_line():
    assert faults.infrastructure_fault(ProviderError("sidecar not ready: pilot-agent exited\nlog")) == (
        "sidecar not ready: pilot-agent exited")
    refused = urllib3.exceptions.MaxRetryError(None, "/api", "Connection refused")
    assert faults.infrastructure_fault(refused).startswith("API unavailable: ")
    assert faults.infrastructure_fault(ApiException(status=503, reason="Service Unavailable")) == (
        "API unavailable: HTTP 503 Service Unavailable")


def test_a_failed_expectation_or_a_refused_object_is_not_a_fault():
    assert faults.infrastructure_fault(AssertionError("HTTP reachable, expected blocked")) is None
    assert faults.infrastructure_fault(ApiException(status=422, reason="Invalid")) is None
