"""istio.io's "Egress Gateways" task, Gateway API tab: the egress gateway is a Gateway API
``Gateway`` (class istio) that istiod deploys itself in the test namespace, an HTTPRoute whose
parent is the host's ServiceEntry sends the mesh's requests for it to that gateway, and an
HTTPRoute on the Gateway forwards them to the host (a backend of kind Hostname). The walkthrough
is egress_gateway's: blocked, directly through the ServiceEntry, through the deployed gateway
with the routes (the client sidecar's cluster to the gateway's Service, the gateway's own
Envoy's counters on the host's cluster), directly again without them, blocked without the entry."""

import functools
import pathlib

from egress_conformance.cluster.meshconfig import REGISTRY_ONLY
from egress_conformance.framework import scope
from egress_conformance.framework.scenario import Scenario
from egress_conformance.providers import features
from egress_conformance.scenarios import egress_gateway

MANIFESTS = pathlib.Path(__file__).parent

DEPLOYED = egress_gateway.Route(MANIFESTS, lambda t: t.resources.deploy_gateway(MANIFESTS / "gateway.yaml"))
"""The Gateway, deployed before the walkthrough starts: every step reads its Envoy."""

SCENARIO = Scenario(
    name="egress-gateway-gateway-api",
    description="HTTP to the external host leaves through the gateway istiod deploys for a Gateway API Gateway "
                "once the HTTPRoutes exist (a ServiceEntry parent to the gateway, a Hostname backend from it; "
                "both Envoys show it), directly without them, and not at all without the ServiceEntry.",
    features=frozenset({features.MESH_WIDE_POLICY, features.GATEWAY_API, features.SERVICE_ENTRY_HTTP}),
    run=functools.partial(egress_gateway.run, egress_gateway.HTTP, route=DEPLOYED),
    restricts=REGISTRY_ONLY,
    manifests=MANIFESTS,
    scopes=(scope.MESH_WIDE, scope.NAMESPACE),
)
