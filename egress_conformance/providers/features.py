"""The features a scenario can need, each a typed value with a support level and what it means.
A provider declares which it supports; a scenario whose feature is unsupported is reported "not
supported", one whose feature the user disabled is "skipped": neither is ever a pass. The
conformance profiles are built from these sets (framework/profiles.py), as Gateway API builds
its profiles from its features (pkg/features, conformance/utils/suite/profiles.go)."""

import enum


class Level(enum.StrEnum):
    """How much of a mesh's egress control a feature is: core, which every mesh that claims
    egress control must have, or extended, which a mesh may lack and still conform."""

    CORE = "core"
    EXTENDED = "extended"


class Feature(str):
    """A feature: its name (a string, as options, providers and reports spell it), its level, and
    what a scenario that needs it proves."""

    level: Level
    proves: str

    def __new__(cls, name: str, level: Level, proves: str) -> "Feature":
        feature = super().__new__(cls, name)
        feature.level, feature.proves = level, proves
        return feature


MESH_WIDE_POLICY = Feature("mesh-wide-policy", Level.CORE,
                           "outboundTrafficPolicy.mode in the mesh config decides what unknown hosts get")
SERVICE_ENTRY_HTTP = Feature("service-entry-http", Level.CORE,
                             "a MESH_EXTERNAL ServiceEntry opens an HTTP host under REGISTRY_ONLY")
HTTPS_PASSTHROUGH = Feature("https-passthrough", Level.EXTENDED,
                            "a TLS ServiceEntry on 443 opens an HTTPS host by SNI, without terminating TLS")
SIDECAR_SCOPED_POLICY = Feature("sidecar-scoped-policy", Level.EXTENDED,
                                "a Sidecar resource sets the outbound policy for one namespace only")
TLS_ORIGINATION = Feature("tls-origination", Level.EXTENDED, "a DestinationRule makes the sidecar originate TLS, "
                          "verifying the host with a CA file it can read")
EGRESS_GATEWAY = Feature("egress-gateway", Level.EXTENDED, "external traffic leaves through a dedicated egress gateway")
EGRESS_AUTHORIZATION = Feature("egress-authorization", Level.EXTENDED,
                               "an AuthorizationPolicy in the egress gateway's namespace decides which service "
                               "accounts may leave (the sidecar reaches the gateway over mutual TLS)")
NETWORK_POLICY = Feature("network-policy", Level.EXTENDED,
                         "NetworkPolicy is enforced (a scenario that finds it is not says so: not supported)")
GATEWAY_API = Feature("gateway-api", Level.EXTENDED, "a Gateway API Gateway of class istio is deployed by istiod and "
                      "carries egress routed by HTTPRoutes")
WORKLOADS = Feature("workloads", Level.EXTENDED,
                    "the mesh runs a team's own pods beside the client, injected (or not) by its webhook")

ALL: dict[str, Feature] = {feature: feature for feature in (
    MESH_WIDE_POLICY, SERVICE_ENTRY_HTTP, HTTPS_PASSTHROUGH, SIDECAR_SCOPED_POLICY, EGRESS_GATEWAY, TLS_ORIGINATION,
    EGRESS_AUTHORIZATION, NETWORK_POLICY, WORKLOADS, GATEWAY_API)}
"""Feature name -> the feature."""


def at(level: Level) -> frozenset[Feature]:
    """The features of one level."""
    return frozenset(f for f in ALL.values() if f.level == level)


def unknown(names) -> list[str]:
    """The names that are not features (for a clear usage error)."""
    return sorted(set(names) - set(ALL))
