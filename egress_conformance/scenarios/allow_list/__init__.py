"""The platform team's allow-list, at scale: under REGISTRY_ONLY, every listed host is
blocked; the list's ServiceEntries open each of them (every host answers, through its
own cluster) and nothing else (a sample of unlisted hosts stays blocked); removing
them blocks every listed host again, and the starting policy comes back.

The list is the run's (``--allow-list FILE``: CSV, a YAML list, or the team's own
ServiceEntries; allow-list.yaml beside this file otherwise). Its hosts are requested
in one batch per observation, so a list of hundreds costs one exec, not hundreds.
"""

import pathlib

from egress_conformance.cluster.meshconfig import REGISTRY_ONLY
from egress_conformance.framework import scope
from egress_conformance.framework.handle import EgressTest
from egress_conformance.framework.scenario import Scenario
from egress_conformance.hosts import allowlist
from egress_conformance.providers import features
from egress_conformance.verdicts import checks
from egress_conformance.verdicts.observe import Request

DEFAULT_LIST = pathlib.Path(__file__).parent / "allow-list.yaml"
"""The list when the user gives none (--allow-list)."""


def run(t: EgressTest) -> None:
    entries = t.targets.allow_list
    listed = [Request(t.targets.url("https" if allowlist.is_tls(e) else "http", e.host, e.port)) for e in entries]
    clusters = {request.url: allowlist.cluster(entry) for request, entry in zip(listed, entries, strict=True)}

    blocked = checks.sidecar_policy(REGISTRY_ONLY)
    closed = checks.all_of(blocked, checks.sidecar_has_clusters(clusters.values(), present=False))
    t.client.expect(f"restricted: the {len(entries)} listed hosts blocked", listed,
                    checks.all_of(closed, checks.each_blocked(clusters.values())))

    service_entries = t.resources.apply_objects(
        [allowlist.service_entry(entry, f"allow-list-{index:04d}") for index, entry in enumerate(entries)],
        f"the {len(entries)} ServiceEntries of the allow-list")
    opened = checks.all_of(blocked, checks.sidecar_has_clusters(clusters.values()))
    t.client.expect(f"allowed: each of the {len(entries)} listed hosts answers via its cluster", listed,
                    checks.all_of(opened, checks.each_answered(clusters)))
    for host in t.targets.unlisted:
        t.client.expect(f"allowed: unlisted {host} still blocked (HTTP)", Request(t.targets.url("http", host)),
                        checks.all_of(opened, checks.blocked_http()))
        t.client.expect(f"allowed: unlisted {host} still blocked (HTTPS)", Request(t.targets.url("https", host)),
                        checks.all_of(opened, checks.blocked_tls()))

    t.resources.restore(service_entries)
    t.client.expect(f"entries removed: the {len(entries)} listed hosts blocked again", listed,
                    checks.all_of(closed, checks.each_blocked(clusters.values())))


SCENARIO = Scenario(
    name="allow-list",
    description="The team's allow-list opens each listed host through its own cluster and nothing else; "
                "removing it blocks them all again.",
    features=frozenset({features.MESH_WIDE_POLICY, features.SERVICE_ENTRY_HTTP, features.HTTPS_PASSTHROUGH}),
    run=run,
    restricts=REGISTRY_ONLY,
    scopes=(scope.MESH_WIDE, scope.NAMESPACE),
    hosts=lambda targets: (*(entry.host for entry in targets.allow_list), *targets.unlisted),
)
