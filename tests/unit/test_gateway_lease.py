"""Two runs sending the same host through one shared egress gateway would disturb each other
(the gateway merges both runs' endpoints for it): the first scenario that uses the gateway
takes a Lease on it, held to the run's end; another run's gateway scenarios meanwhile are "not
run", the holder named."""

import pytest

from egress_conformance.changes import cleanup
from egress_conformance.changes.journal import ClusterBusy, Journal
from egress_conformance.providers.base import EgressGateway
from egress_conformance.providers.existing import hold
from egress_conformance.providers.existing import provider as existing
from egress_conformance.verdicts import classify

GATEWAY = EgressGateway("istio-system", "istio-egressgateway", {"istio": "egressgateway"}, {80: "http"}, None)


def started(tmp_path):
    made = existing.ExistingProvider.__new__(existing.ExistingProvider)
    made._api, made._gateway, made.test_namespace = None, GATEWAY, "team"
    made._undo, made._journal = cleanup.Stack(), Journal({"provider": "existing", "server": "s"}, tmp_path / "j.json")
    return made


def test_the_first_use_of_the_shared_gateway_takes_its_lease_once(tmp_path, monkeypatch):
    taken = []
    monkeypatch.setattr(hold, "take_gateway", lambda api, journal, undo, namespace, gateway: taken.append(gateway))
    provider = started(tmp_path)
    assert provider.egress_gateway() is GATEWAY and provider.egress_gateway() is GATEWAY
    assert taken == [GATEWAY]


def test_another_runs_gateway_lease_makes_the_scenario_not_run_naming_it(tmp_path, monkeypatch):
    def busy(api, journal, undo, namespace, gateway):
        raise ClusterBusy("another run holds Lease istio-system/egress-conformance-gateway-istio-egressgateway "
                          "(run 20261207-x): it is changing the same thing now; wait for it to end")

    monkeypatch.setattr(hold, "take_gateway", busy)
    with pytest.raises(ClusterBusy) as raised:
        started(tmp_path).egress_gateway()
    outcome = classify.of_error(raised.value, "", interrupted=False)
    assert outcome.kind == classify.Kind.REFUSED and "egress-conformance-gateway-istio-egressgateway" in outcome.reason
