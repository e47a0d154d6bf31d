"""The audit: a namespace's egress as it is, read-only. From this namespace, does every
host of the team's list answer, and can anything reach a host the list does not name?

Nothing is changed: no policy, no ServiceEntry. The API says what configures the
namespace's egress (recorded first); the sidecar's own config is compared with the list
both ways (a listed host without its cluster: missing; a cluster for an unlisted external
host: a leak); then requests, one batch per observation: every listed host through its own
cluster; every path out of the sidecar (each listener's filter chains, each route, each cluster
with its type and endpoints) to a listed cluster or inside the cluster's networks; the probe
hosts (--probe-hosts, else example.com and friends) blocked over HTTP and
HTTPS, TLS with an unlisted SNI blocked on every TLS port of the list, and a connection on
every TCP port of the list kept to that port's listed host. A "blocked" verdict needs the
sidecar's own refusal (BlackHoleCluster, or block_all's direct response), never just a
failed request. Each check runs whatever the others found; a leak seen once under the final
configuration is a leak (waits.until_settled, sticky). Each failure is a finding naming the
path and the Istio object behind it.
"""

import dataclasses
from collections.abc import Callable, Iterable
from typing import TypeVar

from egress_conformance import waits
from egress_conformance.cluster.meshconfig import REGISTRY_ONLY
from egress_conformance.framework import inventory, networks, recorder, scope, workloads
from egress_conformance.framework.handle import EgressTest
from egress_conformance.framework.scenario import Mode, Scenario
from egress_conformance.hosts import allowlist
from egress_conformance.providers import features
from egress_conformance.scenarios.audit import enforcement
from egress_conformance.verdicts import checks, observe
from egress_conformance.verdicts import paths as verdicts_paths
from egress_conformance.verdicts.observe import Request

E = TypeVar("E", bound=observe.Evidence)
"""What a verify step observes: a Batch of requests, or a walk of the sidecar's paths."""


def run(t: EgressTest) -> None:
    found = t.policy.egress()
    entries = t.targets.allow_list
    listed = {t.targets.url("https" if allowlist.is_tls(e) else "http", e.host, e.port): allowlist.cluster(e)
              for e in entries}
    tcp = [e for e in entries if e.protocol == "TCP"]
    tls_ports = sorted({443} | {e.port for e in entries if allowlist.is_tls(e)})
    probes = t.targets.unlisted
    unlisted = [Request(t.targets.url("http", host)) for host in probes]
    unlisted += [Request(t.targets.url("https", host, port)) for host in probes for port in tls_ports]
    closed = checks.all_of(checks.sidecar_policy(REGISTRY_ONLY), checks.each_blocked(listed.values()))
    inside = networks.read(t.context.api)

    leaks: list[str] = []

    def verify(step: str, probe: Callable[[], E], check: checks.Check[E], *, sticky: bool = True) -> None:
        # Each check runs whatever the others found: a failure is a leak to name, not the end.
        try:
            t.client.verify(step, probe, check, sticky=sticky)
        except waits.NotConverged:
            leaks.append(f"{step}: {t.record.last().detail}")

    verify(f"each of the {len(entries)} listed hosts answers via its own cluster",
           lambda: t.client.probe_all([Request(u) for u in listed]),
           checks.all_of(checks.sidecar_has_clusters(listed.values()), checks.each_answered(listed)), sticky=False)
    verify("every path out of the sidecar goes to a listed host or stays inside the cluster", t.client.walk,
           checks.no_leaking_paths(listed.values(), inside))
    verify(f"{len(probes)} unlisted hosts blocked over HTTP and TLS on ports {', '.join(map(str, tls_ports))}",
           lambda: t.client.probe_all(unlisted), closed)
    if tcp:
        verify(f"TCP ports {', '.join(str(e.port) for e in tcp)}: unlisted hosts kept to the listed one",
               lambda: t.client.probe_all([Request(t.targets.url("http", host, e.port))
                                           for host in probes for e in tcp]),
               checks.each_contained(allowlist.cluster(e) for e in tcp))
    leaks += _around_sidecars(t, listed.values(), inside)
    # Which of several selector-less Sidecars applies is undefined: what passes today may not tomorrow.
    leaks += found.ambiguous
    for leak in leaks:
        t.record.finding(f"audit of namespace {t.namespace}: {leak}")
    assert not leaks, f"{len(leaks)} audit checks failed: " + " | ".join(leaks)


def _around_sidecars(t: EgressTest, listed: Iterable[str], inside: verdicts_paths.Networks) -> list[str]:
    """The namespace's own workloads from the API: every path around a sidecar is a finding naming
    the workload and the field (framework/workloads.py); a workload whose sidecar a Sidecar or
    EnvoyFilter configures apart from the probe's has its own sidecar walked, one pod per distinct
    config. Recorded as a step either way."""
    step = f"no workload of namespace {t.namespace} leaves around its sidecar"
    found, mesh = inventory.read(t.context.api, t.namespace, t.provider.mesh_config_map())
    own, walked = _own_sidecars(t, found, mesh, listed, inside)
    paths, covered = workloads.findings(found, mesh, walked)
    proof = ""
    if any(workloads.UNPROVEN in path for path in paths):  # a NetworkPolicy would cover it: prove it is enforced
        enforced, proof = enforcement.proven(t)
        if enforced:
            paths, covered = workloads.findings(found, dataclasses.replace(mesh, policies_enforced=True), walked)
    paths += own
    seen = f"{len(found)} workloads: {', '.join(str(w) for w in found) or 'none but the probe'}"
    seen += f"; NetworkPolicy enforcement: {proof}" if proof else ""
    seen += f"; own sidecars walked: {', '.join(sorted(walked))}" if walked else ""
    seen += "".join(f"\ncovered: {c}" for c in covered)
    t.record.judged(step, not paths, "; ".join(paths) or f"{len(found)} workloads, each behind its sidecar",
                    evidence=seen, started=recorder.now(), ended=recorder.now())
    return [f"{step}: {'; '.join(paths)}"] if paths else []


def _own_sidecars(t: EgressTest, found: list[workloads.Workload], mesh: workloads.Mesh, listed: Iterable[str],
                  inside: verdicts_paths.Networks) -> tuple[list[str], frozenset[str]]:
    """Walk one running pod's sidecar per distinct config that differs from the probe's: (its
    leaks, named with the workload and what configures it apart; the workloads walked)."""
    groups: dict[tuple[str, ...], list] = {}
    for workload in found:
        key = workloads.own_config(workload, mesh)
        if key:
            groups.setdefault(key, []).append(workload)
    leaks, walked = [], set()
    for key, group in sorted(groups.items()):
        meshed = [(w, p) for w in group if (p := workloads.meshed_pod(w))]
        sidecar = t.provider.sidecar_of(meshed[0][1]) if meshed else None
        if sidecar is None:
            continue  # no pod to read: workloads.findings names what selects it as not walked
        workload, pod = meshed[0]
        said = verdicts_paths.leaks(verdicts_paths.walk(*sidecar.envoy_admin_many(list(verdicts_paths.CONFIG_PATHS))),
                                    listed, inside)
        walked |= {w.name for w in group}
        leaks += [f"{workload} (its own sidecar, pod {pod}, configured apart by {', '.join(key)}): {leak}"
                  for leak in said]
    return leaks, frozenset(walked)


SCENARIO = Scenario(
    name="audit",
    description="Read-only: every listed host answers through its own cluster, and nothing unlisted leaves the "
                "namespace (HTTP, TLS by SNI, TCP ports), each leak named with the Istio object behind it.",
    mode=Mode.AUDIT,
    features=frozenset({features.SERVICE_ENTRY_HTTP, features.HTTPS_PASSTHROUGH}),
    run=run,
    scopes=(scope.NAMESPACE,),
    hosts=lambda targets: (),
)
