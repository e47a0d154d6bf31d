"""TLS origination, as istio.io's "Egress TLS Origination" tasks build it, at the sidecar and at
the egress gateway.

At the sidecar: the
app speaks plain HTTP, a DestinationRule makes the sidecar speak TLS to the host's port 443.
Restrict and see the host blocked; open port 80 onto the host's TLS port and see the host
refuse the plain request (400: HTTP sent to its TLS port); add the DestinationRule and see
it answer (its TLS port answers only TLS), the sidecar's TLS handshakes counted on the host's
cluster; remove it and see the
refusal again; remove the entry and see the host blocked; restore the starting policy.

At the egress gateway: the same, the app's plain HTTP sent through the gateway, whose Envoy
sends it on to the host's 443: plain (the host's 400) until the DestinationRule makes the
gateway speak TLS there (the host answers); evidence from both Envoys."""

import pathlib

from egress_conformance.cluster.meshconfig import REGISTRY_ONLY
from egress_conformance.framework import scope
from egress_conformance.framework.handle import EgressTest
from egress_conformance.framework.scenario import Scenario
from egress_conformance.providers import features
from egress_conformance.verdicts import checks
from egress_conformance.verdicts.observe import Request

MANIFESTS = pathlib.Path(__file__).parent
SERVICE_ENTRY = MANIFESTS / "service-entry.yaml"
DESTINATION_RULE = MANIFESTS / "destination-rule.yaml"
GATEWAY_SERVICE_ENTRY = MANIFESTS / "gateway-service-entry.yaml"
GATEWAY_ROUTING = MANIFESTS / "gateway-routing.yaml"
GATEWAY_DESTINATION_RULE = MANIFESTS / "gateway-destination-rule.yaml"


def run(t: EgressTest) -> None:
    http = Request(t.targets.url("http"))
    cluster = f"outbound|80||{t.targets.host}"

    restricted = checks.sidecar_policy(REGISTRY_ONLY)
    t.client.expect("restricted: HTTP blocked", http, checks.all_of(restricted, checks.blocked_http()))

    entry = t.resources.apply(SERVICE_ENTRY)
    # The host's 400 (HTTP sent to its TLS port) is its own word that the request came plain.
    plain = checks.all_of(restricted, checks.refused_by_host(400, via=cluster))
    t.client.expect("entry alone: plain HTTP on the host's TLS port, refused by the host", http, plain)

    origination = t.resources.apply(DESTINATION_RULE)
    t.client.expect("originated: the sidecar speaks TLS to the host, which answers", http,
                    checks.all_of(restricted, checks.reachable(via=cluster), checks.tls_from_sidecar(cluster)))

    t.resources.restore(origination)
    t.client.expect("rule removed: plain HTTP refused by the host again", http, plain)

    t.resources.restore(entry)
    t.client.expect("entry removed: HTTP blocked again", http, checks.all_of(restricted, checks.blocked_http()))


def run_at_gateway(t: EgressTest) -> None:
    gateway = t.resources.egress_gateway()
    where = gateway.substitutions()
    http = Request(t.targets.url("http"))
    direct_cluster = f"outbound|80||{t.targets.host}"
    tls_cluster = f"outbound|443||{t.targets.host}"
    to_gateway = f"outbound|80|external|{gateway.host}"

    restricted = checks.sidecar_policy(REGISTRY_ONLY)
    blocked = checks.all_of(restricted, checks.blocked_http())
    t.client.expect("restricted: HTTP blocked", http, blocked)

    entry = t.resources.apply(GATEWAY_SERVICE_ENTRY, **where)
    direct = checks.all_of(restricted, checks.reachable(via=direct_cluster), checks.gateway_untouched())
    t.client.expect("allowed: HTTP answers directly", http, direct)

    routing = t.resources.apply(GATEWAY_ROUTING, **where)
    # The host's 400 (HTTP sent to its TLS port), reached through the gateway's cluster for 443.
    plain = checks.all_of(restricted, checks.refused_by_host(400, via=to_gateway), checks.gateway_sent(tls_cluster))
    t.client.expect("routed, no origination: the gateway sends plain HTTP to the host's TLS port, refused by the host",
                    http, plain)

    origination = t.resources.apply(GATEWAY_DESTINATION_RULE, **where)
    t.client.expect("originated: the gateway speaks TLS to the host, which answers", http,
                    checks.all_of(restricted, checks.left_through_gateway(to_gateway, tls_cluster)))

    t.resources.restore(origination)
    t.client.expect("rule removed: plain HTTP from the gateway refused by the host again", http, plain)

    t.resources.restore(routing)
    t.client.expect("routing removed: HTTP answers directly again", http, direct)

    t.resources.restore(entry)
    t.client.expect("entry removed: HTTP blocked again", http, blocked)


SCENARIO = Scenario(
    name="tls-origination-sidecar",
    description="A DestinationRule makes the sidecar originate TLS (SIMPLE, the host's certificate verified) for "
                "an app that speaks plain HTTP; without it the host refuses the plain request on its TLS port.",
    features=frozenset({features.MESH_WIDE_POLICY, features.SERVICE_ENTRY_HTTP, features.TLS_ORIGINATION}),
    run=run,
    restricts=REGISTRY_ONLY,
    manifests=MANIFESTS,
    scopes=(scope.MESH_WIDE, scope.NAMESPACE),
)

GATEWAY_SCENARIO = Scenario(
    name="tls-origination-gateway",
    description="The egress gateway originates TLS (SIMPLE, the host's certificate verified) for the app's plain "
                "HTTP sent through it; without the DestinationRule the gateway's plain request is refused by the "
                "host on its TLS port.",
    features=frozenset({features.MESH_WIDE_POLICY, features.EGRESS_GATEWAY, features.SERVICE_ENTRY_HTTP,
                        features.TLS_ORIGINATION}),
    run=run_at_gateway,
    restricts=REGISTRY_ONLY,
    manifests=MANIFESTS,
    scopes=(scope.MESH_WIDE, scope.NAMESPACE),
)
