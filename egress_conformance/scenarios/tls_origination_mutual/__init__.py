"""Mutual TLS origination at the egress gateway, as istio.io's "Egress Gateways with TLS
Origination" task does it against a host that demands a client certificate. The simulated
host is Envoy from the mesh's own proxy image (go-httpbin cannot verify clients), outside
the mesh, answering only a client its CA signed. Restrict and see the host blocked; open it
and route it through the gateway: the gateway's plain HTTP is refused (the host speaks only
TLS); SIMPLE origination, the host verified but no client certificate, is refused too;
MUTUAL, with the client certificate from a Secret in the gateway's namespace, is answered
(both Envoys on the path); back to SIMPLE, refused again; remove it all and see the host
blocked; restore the starting policy."""

import pathlib
import tempfile

from egress_conformance import pki
from egress_conformance.cluster.meshconfig import REGISTRY_ONLY
from egress_conformance.framework import scope
from egress_conformance.framework.handle import EgressTest
from egress_conformance.framework.scenario import Scenario
from egress_conformance.providers import features
from egress_conformance.scenarios import tls_origination
from egress_conformance.verdicts import checks
from egress_conformance.verdicts.observe import Request

MANIFESTS = pathlib.Path(__file__).parent
HOST = MANIFESTS / "host.yaml"
SERVICE_ENTRY = MANIFESTS / "service-entry.yaml"
DESTINATION_RULE = MANIFESTS / "destination-rule.yaml"


def credentials(host: str) -> tuple[dict[str, str], dict[str, str]]:
    """(the host's Secret data, the gateway's client Secret data), under one throwaway CA that
    signs both ends and that each end trusts."""
    with tempfile.TemporaryDirectory() as scratch:
        directory = pathlib.Path(scratch)
        ca = pki.ca(directory, "mutual-ca", "egress-conformance throwaway mutual TLS CA")
        server = pki.leaf(directory, "host", ca, host, dns=(host,))
        client = pki.leaf(directory, "client", ca, "egress-conformance egress gateway client", dns=())
        ca_pem = ca.cert.read_text()
        return ({"tls.crt": server.cert.read_text(), "tls.key": server.key.read_text(), "ca.crt": ca_pem},
                {"tls.crt": client.cert.read_text(), "tls.key": client.key.read_text(), "ca.crt": ca_pem})


def secret(name: str, namespace: str, data: dict[str, str]) -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace},
            "stringData": data}


def run(t: EgressTest) -> None:
    gateway = t.resources.egress_gateway()
    host = t.targets.host
    http = Request(t.targets.url("http"))
    tls_cluster = f"outbound|443||{host}"
    to_gateway = f"outbound|80|external|{gateway.host}"
    credential = f"egress-conformance-{t.namespace}-client"

    assert gateway.image, "the egress gateway's proxy image is unknown: no image to run the simulated host from"
    host_data, client_data = credentials(host)
    t.resources.create(secret("mutual-tls-host", t.namespace, host_data))
    address = t.resources.serve(HOST, image=gateway.image)
    # The gateway reads a credentialName Secret from its own namespace only.
    t.resources.create(secret(credential, gateway.namespace, client_data))
    where = {**gateway.substitutions(), "address": address, "credential": credential}

    restricted = checks.sidecar_policy(REGISTRY_ONLY)
    blocked = checks.all_of(restricted, checks.blocked_http())
    t.client.expect("restricted: HTTP blocked", http, blocked)

    entry = t.resources.apply(SERVICE_ENTRY, **where)
    routing = t.resources.apply(tls_origination.GATEWAY_ROUTING, **where)
    # Sent on by the gateway through the host's 443 cluster, which failed there: the host said no.
    refused = checks.all_of(restricted, checks.upstream_failed(), checks.gateway_sent(tls_cluster))
    t.client.expect("routed, no origination: the host refuses the gateway's plain HTTP", http, refused)

    simple = t.resources.apply(DESTINATION_RULE, tls_mode="SIMPLE", **where)
    t.client.expect("SIMPLE: the host refuses a gateway without a client certificate", http, refused)
    t.resources.restore(simple)

    mutual = t.resources.apply(DESTINATION_RULE, tls_mode="MUTUAL", **where)
    t.client.expect("MUTUAL: the host verifies the gateway's client certificate and answers", http,
                    checks.all_of(restricted, checks.left_through_gateway(to_gateway, tls_cluster)))
    t.resources.restore(mutual)

    simple = t.resources.apply(DESTINATION_RULE, tls_mode="SIMPLE", **where)
    t.client.expect("back to SIMPLE: refused again", http, refused)
    t.resources.restore(simple)

    t.resources.restore(routing)
    t.resources.restore(entry)
    t.client.expect("entry removed: HTTP blocked again", http, blocked)


SCENARIO = Scenario(
    name="tls-origination-mutual",
    description="The egress gateway originates mutual TLS (MUTUAL, its client certificate from a Secret in its "
                "namespace) to a host that answers only verified clients; SIMPLE origination and plain HTTP are "
                "refused by that host.",
    features=frozenset({features.MESH_WIDE_POLICY, features.EGRESS_GATEWAY, features.SERVICE_ENTRY_HTTP,
                        features.TLS_ORIGINATION}),
    run=run,
    restricts=REGISTRY_ONLY,
    manifests=MANIFESTS,
    scopes=(scope.MESH_WIDE, scope.NAMESPACE),
    writes_outside="a Secret (its client certificate) in the egress gateway's namespace",
)
