"""The extended profile: every extended scenario, one test each, named by its short name."""

import pytest

from egress_conformance import scenarios
from egress_conformance.framework.handle import EgressTest
from egress_conformance.framework.scenario import EXTENDED, Scenario


@pytest.mark.parametrize("scenario", scenarios.in_profile(EXTENDED), ids=lambda s: s.name)
def test_extended(scenario: Scenario, egress: EgressTest) -> None:
    scenario.execute(egress)
