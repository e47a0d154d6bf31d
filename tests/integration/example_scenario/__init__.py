"""Under REGISTRY_ONLY a ServiceEntry opens exactly the host it names: the run's host answers
through the entry's own cluster while another host stays blocked, and once the entry is
removed the host is blocked again. (CONTRIBUTING.md's example: copy it to egress_conformance/scenarios/.)"""

import pathlib

from egress_conformance.cluster.meshconfig import REGISTRY_ONLY
from egress_conformance.framework import scope
from egress_conformance.framework.handle import EgressTest
from egress_conformance.framework.scenario import Scenario
from egress_conformance.providers import features
from egress_conformance.verdicts import checks
from egress_conformance.verdicts.observe import Request

SERVICE_ENTRY = pathlib.Path(__file__).parent / "service-entry.yaml"


def run(t: EgressTest) -> None:
    host = Request(t.targets.url("http"))
    other = Request(t.targets.url("http", t.targets.unlisted[0]))
    entry_cluster = f"outbound|80||{t.targets.host}"

    restricted = checks.sidecar_policy(REGISTRY_ONLY)
    t.client.expect("restricted: the host is blocked", host, checks.all_of(restricted, checks.blocked_http()))

    entry = t.resources.apply(SERVICE_ENTRY)
    t.client.expect("listed: the host answers through its entry", host,
                    checks.all_of(restricted, checks.reachable(via=entry_cluster)))
    t.client.expect("listed: another host is still blocked", other, checks.all_of(restricted, checks.blocked_http()))

    t.resources.restore(entry)
    t.client.expect("unlisted again: the host is blocked", host, checks.all_of(restricted, checks.blocked_http()))


SCENARIO = Scenario(
    name="example-one-host",
    description="Under REGISTRY_ONLY a ServiceEntry opens exactly its host; removed, the host is blocked again.",
    features=frozenset({features.SIDECAR_SCOPED_POLICY, features.SERVICE_ENTRY_HTTP}),
    run=run,
    restricts=REGISTRY_ONLY,
    manifests=SERVICE_ENTRY.parent,
    scopes=(scope.NAMESPACE,),
)
