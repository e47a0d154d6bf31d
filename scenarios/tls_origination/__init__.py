"""TLS origination at the sidecar, as istio.io's "Egress TLS Origination" task builds it: the
app speaks plain HTTP, a DestinationRule makes the sidecar speak TLS to the host's port 443.
Restrict and see the host blocked; open port 80 onto the host's TLS port and see the host
refuse the plain request (400: HTTP sent to its TLS port); add the DestinationRule and see
it answer (its TLS port answers only TLS), the sidecar's TLS handshakes counted on the host's
cluster; remove it and see the
refusal again; remove the entry and see the host blocked; restore the starting policy."""

import pathlib

from egress_conformance.cluster.meshconfig import REGISTRY_ONLY
from egress_conformance.framework import scope
from egress_conformance.framework.scenario import EXTENDED, Scenario
from egress_conformance.providers import features
from egress_conformance.verdicts import checks
from egress_conformance.verdicts.observe import Request

MANIFESTS = pathlib.Path(__file__).parent
SERVICE_ENTRY = MANIFESTS / "service-entry.yaml"
DESTINATION_RULE = MANIFESTS / "destination-rule.yaml"


def run(t):
    http = Request(t.targets.url("http"))
    cluster = f"outbound|80||{t.targets.host}"

    start = t.starting_policy()
    restriction = t.set_outbound_policy(REGISTRY_ONLY)
    restricted = checks.sidecar_policy(REGISTRY_ONLY)
    t.expect("restricted: HTTP blocked", http, checks.all_of(restricted, checks.blocked_http()))

    entry = t.apply(SERVICE_ENTRY)
    # The host's 400 (HTTP sent to its TLS port) is its own word that the request came plain.
    plain = checks.all_of(restricted, checks.refused_by_host(400, via=cluster))
    t.expect("entry alone: plain HTTP on the host's TLS port, refused by the host", http, plain)

    origination = t.apply(DESTINATION_RULE)
    t.expect("originated: the sidecar speaks TLS to the host, which answers", http,
             checks.all_of(restricted, checks.reachable(via=cluster), checks.tls_from_sidecar(cluster)))

    t.restore(origination)
    t.expect("rule removed: plain HTTP refused by the host again", http, plain)

    t.restore(entry)
    t.expect("entry removed: HTTP blocked again", http, checks.all_of(restricted, checks.blocked_http()))

    t.restore(restriction)
    t.expect_configured_policy(start)


SCENARIO = Scenario(
    name="tls-origination-sidecar",
    description="A DestinationRule makes the sidecar originate TLS (SIMPLE, the host's certificate verified) for "
                "an app that speaks plain HTTP; without it the host refuses the plain request on its TLS port.",
    profile=EXTENDED,
    features=frozenset({features.MESH_WIDE_POLICY, features.SERVICE_ENTRY_HTTP, features.TLS_ORIGINATION}),
    run=run,
    manifests=MANIFESTS,
    scopes=(scope.MESH_WIDE, scope.NAMESPACE),
)
