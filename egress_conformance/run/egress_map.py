"""``egress-conformance audit --all-namespaces`` (or ``--namespace-selector``): the cluster's
egress map in one run, read-only (get and list only; nothing is created anywhere), written as
report.json/yaml, report.html, egress-map.html and egress-map.md in the report folder. With
``--probe-namespace NS`` the single-namespace audit (its behaviour probes) runs for NS after
the map, its report in a sub-folder, and its result joins NS's row.

Exit codes as for every run (reports/report.py): 0 every namespace sound, 1 one leaking, 3 one
unjudged and none leaking, 4 the map could not be read.
"""

import dataclasses
import datetime
import pathlib
import time
from collections.abc import Callable

from egress_conformance.cluster import istiodiscovery
from egress_conformance.hosts import allowlist
from egress_conformance.reports import report as reports
from egress_conformance.reports.model import MeshUnderTest
from egress_conformance.run import egress_map_report as egress_map
from egress_conformance.scenarios.audit import cluster_map, cluster_read


class MapError(Exception):
    """The map could not be made (one line, what to do)."""


def run(args, connect: Callable, audit_one: Callable[[str, pathlib.Path], int] | None = None) -> int:
    """Make the map of the cluster ``connect()`` reaches; ``audit_one(namespace, folder)`` runs the
    single-namespace audit for each --probe-namespace and returns its exit code."""
    folder = pathlib.Path(args.report_dir or f"results/{datetime.datetime.now():%Y%m%d-%H%M%S}").resolve()
    api = connect()
    calls = cluster_read.counted(api)
    started = time.monotonic()
    try:
        objects = cluster_read.read(api, args.namespace_selector, args.revision)
    except istiodiscovery.DiscoveryError as err:
        raise MapError(str(err)) from None
    except Exception as err:
        raise MapError(f"cannot read the cluster at {api.configuration.host} ({_short(err)}); the map needs "
                       "cluster-wide get/list (as a Job: deploy/job.yaml and deploy/egress-map.yaml)") from None
    listed = None
    if args.allow_list:
        try:
            listed = tuple((e.host, e.port, e.protocol) for e in allowlist.load(pathlib.Path(args.allow_list)))
        except (OSError, ValueError) as err:
            raise MapError(f"cannot read --allow-list {args.allow_list}: {err}") from None
    rows = cluster_map.build(objects, listed)
    measure = egress_map.Measure(time.monotonic() - started, calls.calls)
    unknown = sorted(set(args.probe_namespace or ()) - {r.namespace for r in rows})
    if unknown:
        raise MapError(f"--probe-namespace {', '.join(unknown)}: not among the mapped namespaces")
    for namespace in args.probe_namespace or ():
        code = audit_one(namespace, folder / f"probe-{namespace}") if audit_one else None
        rows = [_with_probe(r, code, folder / f"probe-{namespace}") if r.namespace == namespace else r
                for r in rows]
    date = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    mesh = MeshUnderTest(provider="existing", cluster=api.configuration.host, revision=objects.revision,
                         mesh_config=objects.mesh_config, starting_policy=objects.mesh_policy)
    report = egress_map.as_report(rows, mesh, date, args.namespace_selector, measure)
    egress_map.write(folder, report, rows, measure)
    counts = {v: sum(1 for r in rows if r.verdict == v) for v in cluster_map.Verdict}
    print(f"egress map: {len(rows)} namespaces, {counts[cluster_map.Verdict.LEAKING]} leaking, "
          f"{counts[cluster_map.Verdict.UNJUDGED]} unjudged, {counts[cluster_map.Verdict.SOUND]} sound "
          f"({measure.seconds:.1f} s, {measure.api_calls} API calls); {folder / egress_map.PAGE}")
    for row in rows:
        if row.verdict != cluster_map.Verdict.SOUND:
            print(f"  {row.namespace}: {row.verdict.value}: " + " | ".join(row.findings() or list(row.unjudged)))
    return reports.exit_code(report.result, accept_partial=args.accept_partial)


def _with_probe(row: cluster_map.Row, code: int | None, folder: pathlib.Path) -> cluster_map.Row:
    """The row with the behaviour audit's result joined: a failed audit makes it leaking."""
    said = {0: "passed", 1: "failed"}.get(code, f"gave no verdict (exit {code})") if code is not None else "not run"
    line = f"behaviour probes (single-namespace audit, report in {folder}): {said}"
    if code == 1:
        return dataclasses.replace(row, verdict=cluster_map.Verdict.LEAKING, unlisted=(*row.unlisted, line))
    if code == 0:
        return dataclasses.replace(row, listed=(*row.listed, line))
    return dataclasses.replace(row, unjudged=(*row.unjudged, line),
                               verdict=row.verdict if row.verdict == cluster_map.Verdict.LEAKING
                               else cluster_map.Verdict.UNJUDGED)


def _short(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return text[0][:200] if text else type(err).__name__
