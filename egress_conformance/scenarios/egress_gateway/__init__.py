"""External traffic through the mesh's egress gateway, as istio.io's "Egress Gateways" task
builds it, over HTTP and over HTTPS (TLS passed through by SNI): restrict, see the host
blocked, open it with a ServiceEntry and see it answer directly, add the Gateway,
VirtualService and DestinationRule and see it leave through the gateway (evidence from both
Envoys: the sidecar sent it to the gateway's cluster, the gateway's Envoy to the host's),
remove them and see it answer directly again, remove the entry and see it blocked, restore
the starting policy. One flow, two records here; scenarios/egress_gateway_api runs it through
a gateway the mesh deploys for a Gateway API Gateway."""

import dataclasses
import functools
import pathlib
from collections.abc import Callable

from egress_conformance.cluster.meshconfig import REGISTRY_ONLY
from egress_conformance.framework import scope
from egress_conformance.framework.handle import EgressTest
from egress_conformance.framework.scenario import Scenario
from egress_conformance.providers import features
from egress_conformance.providers.base import EgressGateway
from egress_conformance.verdicts import checks
from egress_conformance.verdicts.observe import Observation, Request

MANIFESTS = pathlib.Path(__file__).parent


@dataclasses.dataclass(frozen=True)
class Protocol:
    scheme: str
    port: int
    blocked: checks.Check[Observation]


HTTP = Protocol("http", 80, checks.blocked_http())
HTTPS = Protocol("https", 443, checks.blocked_tls())


@dataclasses.dataclass(frozen=True)
class Route:
    """How the host's traffic is sent through a gateway: the folder of the ServiceEntry and routing
    manifests (``service-entry-<scheme>.yaml``, ``routing-<scheme>.yaml``), how the test gets its
    gateway, and the subset (if any) that names the gateway's cluster in the client's sidecar."""

    manifests: pathlib.Path
    gateway: Callable[[EgressTest], EgressGateway]
    """Given the test ``t``: the gateway whose Envoy each observation reads from then on."""
    subset: str = ""

    def service_entry(self, protocol: Protocol) -> pathlib.Path:
        return self.manifests / f"service-entry-{protocol.scheme}.yaml"

    def routing(self, protocol: Protocol) -> pathlib.Path:
        return self.manifests / f"routing-{protocol.scheme}.yaml"


ISTIO_API = Route(MANIFESTS, lambda t: t.resources.egress_gateway(), subset="external")
"""The shared egress gateway, routed by a Gateway, a VirtualService and a DestinationRule's subset."""


def run(protocol: Protocol, t: EgressTest, route: Route = ISTIO_API) -> None:
    request = Request(t.targets.url(protocol.scheme))
    gateway = route.gateway(t)
    where = gateway.substitutions()
    entry_cluster = f"outbound|{protocol.port}||{t.targets.host}"
    to_gateway = f"outbound|{protocol.port}|{route.subset}|{gateway.host}"
    what = protocol.scheme.upper()

    restricted = checks.sidecar_policy(REGISTRY_ONLY)
    blocked = checks.all_of(restricted, protocol.blocked)
    t.client.expect(f"restricted: {what} blocked", request, blocked)

    entry = t.resources.apply(route.service_entry(protocol), **where)
    direct = checks.all_of(restricted, checks.reachable(via=entry_cluster), checks.gateway_untouched())
    t.client.expect(f"allowed: {what} answers directly", request, direct)

    routing = t.resources.apply(route.routing(protocol), **where)
    t.client.expect(f"routed: {what} leaves through the egress gateway", request,
                    checks.all_of(restricted, checks.left_through_gateway(to_gateway, entry_cluster)))

    t.resources.restore(routing)
    t.client.expect(f"routing removed: {what} answers directly again", request, direct)

    t.resources.restore(entry)
    t.client.expect(f"entry removed: {what} blocked again", request, blocked)


def _scenario(protocol: Protocol, name: str, description: str, needs: set[str]) -> Scenario:
    return Scenario(name=name, description=description, restricts=REGISTRY_ONLY,
                    features=frozenset({features.MESH_WIDE_POLICY, features.EGRESS_GATEWAY, *needs}),
                    run=functools.partial(run, protocol), manifests=MANIFESTS,
                    scopes=(scope.MESH_WIDE, scope.NAMESPACE))


SCENARIOS = (
    _scenario(HTTP, "egress-gateway-http", "HTTP to the external host leaves through the egress gateway once the "
              "Gateway, VirtualService and DestinationRule exist (both Envoys show it), directly without them, and not "
              "at all without the ServiceEntry.", {features.SERVICE_ENTRY_HTTP}),
    _scenario(HTTPS, "egress-gateway-https", "The same for HTTPS, the TLS passed through the gateway by SNI: the "
              "client's certificate check reaches the host end to end.", {features.HTTPS_PASSTHROUGH}),
)
