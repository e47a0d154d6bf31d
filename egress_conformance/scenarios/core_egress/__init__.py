"""The seed walkthrough, end to end: restrict the outbound policy, see httpbin.org
blocked, open it with a ServiceEntry, see it reachable, clean up, see the original
state back. The policy the mesh starts with is recorded, not assumed: a mesh its
owners keep at REGISTRY_ONLY starts blocked and ends blocked."""

import pathlib

from egress_conformance.cluster.meshconfig import REGISTRY_ONLY
from egress_conformance.framework import scope
from egress_conformance.framework.handle import EgressTest
from egress_conformance.framework.scenario import Scenario
from egress_conformance.providers import features
from egress_conformance.verdicts import checks
from egress_conformance.verdicts.observe import Request

MANIFESTS = pathlib.Path(__file__).parent
SERVICE_ENTRY = MANIFESTS / "httpbin-service-entry.yaml"
"""Opens the run's external host (httpbin.org unless --external-host) on port 80."""


def run(t: EgressTest) -> None:
    http = Request(t.targets.url("http"))
    https = Request(t.targets.url("https"))
    unlisted_http = Request(t.targets.url("http", t.targets.unlisted[0]))
    entry_cluster = f"outbound|80||{t.targets.host}"

    start = t.policy.starting()
    t.client.expect("0 baseline", http, checks.enforces(start))

    with t.policy.restricted(REGISTRY_ONLY):  # the seed's steps 1 to 4: restored and read back on the way out
        blocked = checks.sidecar_policy(REGISTRY_ONLY)
        t.client.expect("1+2 restricted: HTTP blocked", http, checks.all_of(blocked, checks.blocked_http()))
        t.client.expect("2 restricted: HTTPS blocked", https, checks.all_of(blocked, checks.blocked_tls()))

        service_entry = t.resources.apply(SERVICE_ENTRY)
        opened = checks.all_of(blocked, checks.sidecar_has_cluster(entry_cluster))
        t.client.expect("3 allowed: HTTP reachable", http, checks.all_of(opened, checks.reachable(via=entry_cluster)))
        t.client.expect("3 allowed: HTTPS still blocked", https, checks.all_of(opened, checks.blocked_tls()))
        t.client.expect("3 allowed: other host still blocked", unlisted_http,
                        checks.all_of(opened, checks.blocked_http()))

        t.resources.restore(service_entry)
        t.resources.expect_absent(SERVICE_ENTRY)
        closed = checks.all_of(blocked, checks.sidecar_has_cluster(entry_cluster, present=False))
        t.client.expect("4 entry removed: HTTP blocked again", http, checks.all_of(closed, checks.blocked_http()))

    t.policy.log()
    t.client.expect("4 policy restored", http, checks.enforces(start))


SCENARIO = Scenario(
    name="core-egress",
    description="REGISTRY_ONLY blocks httpbin.org, a ServiceEntry opens exactly it, clean-up restores the "
                "starting policy.",
    features=frozenset({features.MESH_WIDE_POLICY, features.SERVICE_ENTRY_HTTP}),
    run=run,
    manifests=MANIFESTS,
    scopes=(scope.MESH_WIDE, scope.NAMESPACE),
)
