"""HTTPS egress under REGISTRY_ONLY: a TLS ServiceEntry on 443 opens httpbin.org by
SNI, end to end through the sidecar, while plain HTTP to it stays blocked."""

import pathlib

from egress_conformance.cluster.meshconfig import REGISTRY_ONLY
from egress_conformance.framework import scope
from egress_conformance.framework.handle import EgressTest
from egress_conformance.framework.scenario import Scenario
from egress_conformance.providers import features
from egress_conformance.verdicts import checks
from egress_conformance.verdicts.observe import Request

SERVICE_ENTRY = pathlib.Path(__file__).parent / "httpbin-tls-service-entry.yaml"


def run(t: EgressTest) -> None:
    http = Request(t.targets.url("http"))
    https = Request(t.targets.url("https"))
    tls_cluster = f"outbound|443||{t.targets.host}"

    restricted = checks.sidecar_policy(REGISTRY_ONLY)
    t.client.expect("restricted: HTTPS blocked", https, checks.all_of(restricted, checks.blocked_tls()))

    service_entry = t.resources.apply(SERVICE_ENTRY)
    opened = checks.all_of(restricted, checks.sidecar_has_cluster(tls_cluster))
    t.client.expect("allowed: HTTPS reachable by SNI", https,
                    checks.all_of(opened, checks.reachable(via=tls_cluster)))
    t.client.expect("allowed: plain HTTP still blocked", http, checks.all_of(opened, checks.blocked_http()))

    t.resources.restore(service_entry)
    t.client.expect("entry removed: HTTPS blocked again", https,
                    checks.all_of(restricted, checks.sidecar_has_cluster(tls_cluster, present=False),
                                  checks.blocked_tls()))


SCENARIO = Scenario(
    name="https-service-entry",
    description="A TLS ServiceEntry on 443 opens HTTPS to httpbin.org by SNI; plain HTTP stays blocked.",
    features=frozenset({features.MESH_WIDE_POLICY, features.HTTPS_PASSTHROUGH}),
    run=run,
    restricts=REGISTRY_ONLY,
    manifests=SERVICE_ENTRY.parent,
    scopes=(scope.MESH_WIDE, scope.NAMESPACE),
)
