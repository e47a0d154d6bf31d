"""Every scenario of the suite, registered in one place."""

from egress_conformance.scenario import Scenario
from scenarios import core_egress, https_service_entry, sidecar_scoped_policy

ALL: tuple[Scenario, ...] = (
    core_egress.SCENARIO,
    https_service_entry.SCENARIO,
    sidecar_scoped_policy.SCENARIO,
)


def in_profile(profile: str) -> list[Scenario]:
    """The scenarios of one profile, in registration order."""
    return [s for s in ALL if s.profile == profile]
