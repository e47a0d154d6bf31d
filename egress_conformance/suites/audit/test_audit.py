"""The audit profile (egress-conformance audit): the namespace's egress as it is, read-only."""

import pytest

from egress_conformance import scenarios
from egress_conformance.framework.handle import EgressTest
from egress_conformance.framework.scenario import AUDIT, Scenario


@pytest.mark.parametrize("scenario", scenarios.in_profile(AUDIT), ids=lambda s: s.name)
def test_audit(scenario: Scenario, egress: EgressTest) -> None:
    scenario.execute(egress)
