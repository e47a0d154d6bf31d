"""Every scenario of the suite, registered in one place, expanded into one test case per scope."""

from egress_conformance.framework.scenario import Scenario
from egress_conformance.scenarios import (
    allow_list,
    audit,
    broken_meshes,
    core_egress,
    egress_bypass,
    egress_gateway,
    egress_gateway_api,
    egress_gateway_authz,
    https_service_entry,
    sidecar_scoped_policy,
    tls_origination,
    tls_origination_mutual,
)

DECLARED: tuple[Scenario, ...] = (
    core_egress.SCENARIO,
    https_service_entry.SCENARIO,
    sidecar_scoped_policy.SCENARIO,
    allow_list.SCENARIO,
    tls_origination.SCENARIO,
    *egress_gateway.SCENARIOS,
    egress_gateway_api.SCENARIO,
    egress_gateway_authz.SCENARIO,
    tls_origination.GATEWAY_SCENARIO,
    tls_origination_mutual.SCENARIO,
    egress_bypass.SCENARIO,
    audit.SCENARIO,
    *broken_meshes.SCENARIOS,
)

ALL: tuple[Scenario, ...] = tuple(case for scenario in DECLARED for case in scenario.variants())


def in_profile(profile: str) -> list[Scenario]:
    """The test cases of one profile, in registration order."""
    return [s for s in ALL if s.profile == profile]
