"""Conformance profiles, built from features (providers/features.py) as Gateway API builds its
profiles (conformance/utils/suite/profiles.go): a profile is a named set of features, and a
scenario belongs to the first profile whose features cover all it needs. Ways of running (the
read-only audit, the broken-mesh matrix) are commands, not profiles (framework/scenario.Mode)."""

import dataclasses

from egress_conformance.providers import features
from egress_conformance.providers.features import Feature, Level


@dataclasses.dataclass(frozen=True)
class Profile:
    """A conformance profile: its name and the features a mesh needs to pass it whole."""

    name: str
    features: frozenset[Feature]
    description: str


CORE = Profile("core", features.at(Level.CORE),
               "the walkthrough every mesh with egress control passes: the mesh-wide policy and an HTTP ServiceEntry")
EXTENDED = Profile("extended", CORE.features | {features.HTTPS_PASSTHROUGH, features.SIDECAR_SCOPED_POLICY,
                                                features.TLS_ORIGINATION},
                   "HTTPS by SNI, a namespace's own policy, TLS origination by the sidecar, the team's allow-list")
GATEWAY = Profile("gateway", EXTENDED.features | {features.EGRESS_GATEWAY, features.EGRESS_AUTHORIZATION,
                                                  features.GATEWAY_API, features.NETWORK_POLICY},
                  "egress the way platform teams build it: through an egress gateway, its policies and the "
                  "NetworkPolicy backstop")

ALL: tuple[Profile, ...] = (CORE, EXTENDED, GATEWAY)
"""Smallest first: a scenario's profile is the first that covers it."""

NAMES: tuple[str, ...] = tuple(p.name for p in ALL)


def covering(needs: frozenset[str]) -> Profile:
    """The smallest profile whose features cover ``needs``; ValueError naming the features none has."""
    for profile in ALL:
        if needs <= profile.features:
            return profile
    raise ValueError(f"no profile covers features {', '.join(sorted(needs - GATEWAY.features))}: add them to one "
                     "in framework/profiles.py")
