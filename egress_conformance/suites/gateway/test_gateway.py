"""The gateway profile: egress through the mesh's egress gateway, one test per scenario and scope."""

import pytest

from egress_conformance import scenarios
from egress_conformance.framework.handle import EgressTest
from egress_conformance.framework.scenario import GATEWAY, Scenario


@pytest.mark.parametrize("scenario", scenarios.in_profile(GATEWAY), ids=lambda s: s.name)
def test_gateway(scenario: Scenario, egress: EgressTest) -> None:
    scenario.execute(egress)
