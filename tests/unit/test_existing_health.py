"""The existing provider's health check between observations: it looks at the istiod start-up
chose (the revision the test namespace selects, not only --revision), and a 401/403 from the
API mid-run is the run refused ("not run", the permission named), never a broken mesh."""

import dataclasses
import json

import pytest
from kubernetes.client.exceptions import ApiException

from egress_conformance.cluster import istiodiscovery
from egress_conformance.providers.existing import provider as existing
from egress_conformance.verdicts import classify

CANARY = istiodiscovery.Istiod("istio-system", "istiod-canary", "canary", 0, 1)


def started(selector):
    """A provider as start() leaves it, with the istiod its namespace's label selected."""
    made = existing.ExistingProvider.__new__(existing.ExistingProvider)
    made.options = existing.ExistingOptions(kubeconfig="/k", revision=None, test_namespace="team")
    made._api = None
    made._selector = selector
    made.found = istiodiscovery.Found(dataclasses.replace(CANARY, ready_replicas=1), "canary", {}, {}, ("canary",))
    made.test_namespace = "team"
    return made


def test_the_health_check_asks_for_the_revision_start_up_used(monkeypatch):
    asked = []

    def detect(api, revision):
        asked.append(revision)
        raise istiodiscovery.DiscoveryError("istiod istio-system/istiod-canary is not ready (0/1)")

    monkeypatch.setattr(istiodiscovery, "detect", detect)
    with pytest.raises(existing.ProviderError, match="control plane unavailable: istiod istio-system/istiod-canary"):
        started("canary").ensure_healthy()
    assert asked == ["canary"]  # the namespace's own revision, though --revision was not given


def test_a_refusal_mid_run_is_not_run_with_the_permission_named(monkeypatch):
    def detect(api, revision):
        err = ApiException(status=403, reason="Forbidden")
        err.body = json.dumps({"message": 'deployments.apps is forbidden: User "ci" cannot list resource '
                                          '"deployments" in API group "apps" at the cluster scope'})
        raise err

    monkeypatch.setattr(istiodiscovery, "detect", detect)
    with pytest.raises(ApiException) as raised:
        started("canary").ensure_healthy()
    outcome = classify.of_error(raised.value, "", interrupted=False)
    assert outcome.kind == classify.Kind.REFUSED
    assert 'cannot list resource "deployments"' in outcome.reason
