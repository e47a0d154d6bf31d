"""The features a scenario can need, and what each means. A provider declares which
it supports; a scenario whose feature is unsupported is reported "not supported",
one whose feature the user disabled is "skipped": neither is ever a pass."""

MESH_WIDE_POLICY = "mesh-wide-policy"
SERVICE_ENTRY_HTTP = "service-entry-http"
HTTPS_PASSTHROUGH = "https-passthrough"
SIDECAR_SCOPED_POLICY = "sidecar-scoped-policy"
EGRESS_GATEWAY = "egress-gateway"
TLS_ORIGINATION = "tls-origination"
NETWORK_POLICY = "network-policy"
EGRESS_AUTHORIZATION = "egress-authorization"
GATEWAY_API = "gateway-api"
WORKLOADS = "workloads"

ALL = {
    MESH_WIDE_POLICY: "outboundTrafficPolicy.mode in the mesh config decides what unknown hosts get",
    SERVICE_ENTRY_HTTP: "a MESH_EXTERNAL ServiceEntry opens an HTTP host under REGISTRY_ONLY",
    HTTPS_PASSTHROUGH: "a TLS ServiceEntry on 443 opens an HTTPS host by SNI, without terminating TLS",
    SIDECAR_SCOPED_POLICY: "a Sidecar resource sets the outbound policy for one namespace only",
    EGRESS_GATEWAY: "external traffic leaves through a dedicated egress gateway",
    TLS_ORIGINATION: "a DestinationRule makes the sidecar originate TLS, verifying the host with a CA file it can read",
    EGRESS_AUTHORIZATION: "an AuthorizationPolicy in the egress gateway's namespace decides which service accounts "
                          "may leave (the sidecar reaches the gateway over mutual TLS)",
    NETWORK_POLICY: "NetworkPolicy is enforced (a scenario that finds it is not says so: not supported)",
    WORKLOADS: "the mesh runs a team's own pods beside the client, injected (or not) by its webhook",
    GATEWAY_API: "a Gateway API Gateway of class istio is deployed by istiod and carries egress routed by HTTPRoutes",
}
"""Feature name -> what a scenario that needs it proves."""


def unknown(names) -> list[str]:
    """The names that are not features (for a clear usage error)."""
    return sorted(set(names) - set(ALL))
