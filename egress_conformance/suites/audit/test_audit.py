"""The audit profile (egress-conformance audit): the namespace's egress as it is, read-only."""

import pytest

from egress_conformance import scenarios
from egress_conformance.framework.scenario import AUDIT


@pytest.mark.parametrize("scenario", scenarios.in_profile(AUDIT), ids=lambda s: s.name)
def test_audit(scenario, egress):
    scenario.run(egress)
