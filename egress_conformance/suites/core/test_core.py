"""The core profile: every core scenario, one test each, named by its short name."""

import pytest

from egress_conformance import scenarios
from egress_conformance.framework.handle import EgressTest
from egress_conformance.framework.scenario import CORE, Scenario


@pytest.mark.parametrize("scenario", scenarios.in_profile(CORE), ids=lambda s: s.name)
def test_core(scenario: Scenario, egress: EgressTest) -> None:
    scenario.execute(egress)
