"""The matrix profile (egress-conformance matrix): every shape of the broken-mesh catalogue
against the audit, on one mesh."""

import pytest

from egress_conformance import scenarios
from egress_conformance.framework.handle import EgressTest
from egress_conformance.framework.scenario import MATRIX, Scenario


@pytest.mark.parametrize("scenario", scenarios.in_profile(MATRIX), ids=lambda s: s.name)
def test_matrix(scenario: Scenario, egress: EgressTest) -> None:
    scenario.execute(egress)
