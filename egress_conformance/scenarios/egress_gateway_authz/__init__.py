"""Which workloads may leave, decided at the egress gateway, as istio.io's egress tasks secure
it: the sidecar reaches the gateway over mutual TLS, so the gateway knows who is calling, and
an AuthorizationPolicy there refuses the host to every identity but the test client's.
Restrict, open the host through the gateway, see the client and a second client (another
service account) both leave through it; add the policy and see the second refused by the
gateway itself (403, its RBAC filter counting it) while the client still leaves; remove it
and see the second leave again; remove the routing and the entry and see the host blocked;
restore the starting policy."""

import pathlib

from egress_conformance.cluster.meshconfig import REGISTRY_ONLY
from egress_conformance.framework import scope
from egress_conformance.framework.handle import EgressTest
from egress_conformance.framework.scenario import Scenario
from egress_conformance.providers import features
from egress_conformance.scenarios import egress_gateway
from egress_conformance.verdicts import checks
from egress_conformance.verdicts.observe import Request

MANIFESTS = pathlib.Path(__file__).parent
ROUTING = MANIFESTS / "routing-mutual-tls.yaml"
POLICY = MANIFESTS / "only-the-test-client.yaml"
OTHER = "other-client"
"""The second client's pod and service account: an identity the policy does not name."""


def run(t: EgressTest) -> None:
    gateway = t.resources.egress_gateway()
    where = {**gateway.substitutions(), "test_namespace": t.namespace}
    request = Request(t.targets.url("http"))
    external = f"outbound|80||{t.targets.host}"
    restricted = checks.sidecar_policy(REGISTRY_ONLY)
    through_gateway = checks.all_of(
        restricted, checks.left_through_gateway(f"outbound|443|external|{gateway.host}", external))
    blocked = checks.all_of(restricted, checks.blocked_http())

    t.client.expect("restricted: HTTP blocked", request, blocked)

    entry = t.resources.apply(egress_gateway.ISTIO_API.service_entry(egress_gateway.HTTP), **where)
    routing = t.resources.apply(ROUTING, **where)
    t.client.expect("routed over mutual TLS: the client leaves through the egress gateway", request, through_gateway)
    other = t.resources.start_pod(OTHER, sidecar=True, service_account=OTHER)
    t.pod(other).expect(f"no policy: service account {OTHER} leaves through the gateway too", request,
                        checks.answered_by_gateway(external))

    policy = t.resources.apply(POLICY, namespace=gateway.namespace, **where)
    t.pod(other).expect(f"policy: service account {OTHER} is refused by the gateway", request,
                        checks.denied_by_gateway_policy(external))
    t.client.expect("policy: the client's own service account still leaves through the gateway", request,
                    through_gateway)

    t.resources.restore(policy)
    t.pod(other).expect(f"policy removed: service account {OTHER} leaves again", request,
                        checks.answered_by_gateway(external))

    t.resources.restore(routing)
    t.resources.restore(entry)
    t.client.expect("entry removed: HTTP blocked again", request, blocked)


SCENARIO = Scenario(
    name="egress-gateway-authz",
    description="An AuthorizationPolicy on the egress gateway lets only the test client's service account reach "
                "the host (mutual TLS from the sidecar gives the gateway its identity): a second client under "
                "another service account gets the gateway's 403, the first still leaves.",
    features=frozenset({features.MESH_WIDE_POLICY, features.EGRESS_GATEWAY, features.SERVICE_ENTRY_HTTP,
                        features.EGRESS_AUTHORIZATION}),
    run=run,
    restricts=REGISTRY_ONLY,
    manifests=MANIFESTS,
    scopes=(scope.MESH_WIDE, scope.NAMESPACE),
    writes_outside="an AuthorizationPolicy in the egress gateway's namespace",
)
