"""The cluster's egress map (scenarios/audit/cluster_map.py) as the suite's reports:
report.json/yaml in the usual schema (one audit test per namespace, so `report`, `summary` and
`diff` read it as any run; the map itself under the added field ``egressMap``), the page (one row
per namespace, its verdict in colour, a click to its findings) and the markdown summary."""

import dataclasses
import json
import pathlib

import jinja2
import yaml

from egress_conformance.reports import markdown, pages
from egress_conformance.reports import report as reports
from egress_conformance.reports.model import MeshUnderTest, Report, Result, Step, TestResult, Verdict
from egress_conformance.scenarios.audit import cluster_map

PAGE = "egress-map.html"
SUMMARY = "egress-map.md"
TEST_PREFIX = "audit-map"
COLOUR = {cluster_map.Verdict.SOUND: "passed", cluster_map.Verdict.LEAKING: "failed",
          cluster_map.Verdict.UNJUDGED: "skipped"}
"""The page's colour for each verdict: the report page's classes for passed, failed, skipped."""
_ENV = jinja2.Environment(loader=jinja2.PackageLoader("egress_conformance.reports", "templates"),
                          autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
_RESULT = {cluster_map.Verdict.SOUND: Result.PASSED, cluster_map.Verdict.LEAKING: Result.FAILED,
           cluster_map.Verdict.UNJUDGED: Result.SKIPPED}


@dataclasses.dataclass(frozen=True)
class Measure:
    """What the map cost: wall seconds and API calls."""

    seconds: float
    api_calls: int


def as_report(rows: list[cluster_map.Row], mesh: MeshUnderTest, date: str, selector: str | None,
              measure: Measure) -> Report:
    """The map as a ConformanceReport: one test ``audit-map[<namespace>]`` per namespace."""
    tests = [_test(row, date) for row in rows]
    chosen = f"namespaces matching {selector!r}" if selector else "every namespace"
    findings = (f"egress map of {chosen}: {len(rows)} namespaces in {measure.seconds:.1f} s, {measure.api_calls} API "
                "calls; config-only, from the API's objects",)
    return reports.build(date=date, mesh=mesh, not_run_reason=None, tests=tests, evidence_dir="",
                         claimed_scopes=["namespace"], findings=findings)


def document(report: Report, rows: list[cluster_map.Row], measure: Measure) -> dict:
    """The saved document: the report's fields, and ``egressMap`` added (readers that do not know it ignore it)."""
    return report.to_dict() | {"egressMap": {
        "configOnly": not any(r.walked for r in rows), "seconds": round(measure.seconds, 2),
        "apiCalls": measure.api_calls, "cannotSee": list(cluster_map.CANNOT_SEE),
        "namespaces": [r.to_dict() for r in rows]}}


def write(folder: pathlib.Path, report: Report, rows: list[cluster_map.Row], measure: Measure) -> list[pathlib.Path]:
    """report.json, report.yaml, report.html (the usual page), egress-map.html and egress-map.md."""
    folder.mkdir(parents=True, exist_ok=True)
    saved = document(report, rows, measure)
    written = {"report.json": json.dumps(saved, indent=2), "report.yaml": yaml.safe_dump(saved, sort_keys=False,
                                                                                         width=120),
               PAGE: page(report, rows, measure), SUMMARY: summary(report, rows, measure)}
    for name, text in written.items():
        (folder / name).write_text(text)
    pages.write_report_page(report, folder)
    return [folder / name for name in written]


def page(report: Report, rows: list[cluster_map.Row], measure: Measure) -> str:
    counts = {verdict.value: sum(1 for r in rows if r.verdict == verdict) for verdict in cluster_map.Verdict}
    about = [("date", report.date), *pages.mesh_facts(report.mesh),
             ("cost", f"{measure.seconds:.1f} s, {measure.api_calls} API calls"),
             ("mode", "config walk of the API's objects" + ("" if not any(r.walked for r in rows)
                                                             else ", sidecars walked where named"))]
    return _ENV.get_template("egress_map.html.j2").render(
        rows=rows, counts=counts, about=about, colour=COLOUR, cannot_see=cluster_map.CANNOT_SEE)


def summary(report: Report, rows: list[cluster_map.Row], measure: Measure) -> str:
    """Markdown: the counts, one table row per namespace, then each leaking namespace's findings."""
    leaking = [r for r in rows if r.verdict == cluster_map.Verdict.LEAKING]
    lines = [f"### Egress map: {len(leaking)} of {len(rows)} namespaces leaking", "",
             f"{report.date}; {measure.seconds:.1f} s, {measure.api_calls} API calls; config-only unless a row "
             "says its sidecar was walked.", "",
             "| namespace | verdict | policy | listed | unlisted paths | around a sidecar | NetworkPolicies |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {markdown.cell(r.namespace)} | {r.verdict.value} | {markdown.cell(r.policy)} | {len(r.listed)} | "
              f"{len(r.unlisted)} | {len(r.around)} | {len(r.network_policies)} |" for r in rows]
    for row in leaking:
        lines += ["", f"**{markdown.escape(row.namespace)}** (policy {markdown.escape(row.policy)}, set by "
                      f"{markdown.escape(row.policy_source)})", ""]
        lines += [f"- {markdown.escape(finding)}" for finding in row.findings()]
    lines += ["", "Not seen by a config-only map: " + "; ".join(cluster_map.CANNOT_SEE) + "."]
    return "\n".join(lines) + "\n"


def _test(row: cluster_map.Row, date: str) -> TestResult:
    steps = [
        Step(f"namespace {row.namespace}: its listed hosts", Verdict.OBSERVED,
             detail="; ".join(row.listed) or "none", evidence=f"policy {row.policy}, set by {row.policy_source}",
             started=date),
        Step(f"namespace {row.namespace}: no path to an unlisted host",
             Verdict.FAILED if row.unlisted else Verdict.PASSED, detail="; ".join(row.unlisted) or "none",
             started=date),
        Step(f"namespace {row.namespace}: no workload leaves around its sidecar",
             Verdict.FAILED if row.around else Verdict.PASSED,
             detail="; ".join(row.around) or f"{row.workloads} workloads, each behind its sidecar",
             evidence="; ".join(row.network_policies) or "no egress NetworkPolicy", started=date),
    ]
    reason = ""
    if row.verdict == cluster_map.Verdict.LEAKING:
        reason = f"{len(row.findings())} paths: " + " | ".join(row.findings())
    elif row.verdict == cluster_map.Verdict.UNJUDGED:
        reason = "not judged from the objects alone: " + "; ".join(row.unjudged)
    return TestResult(f"{TEST_PREFIX}[{row.namespace}]", "what the namespace can reach, from the API's objects",
                      "audit", "namespace", (), None, _RESULT[row.verdict], reason, tuple(steps))
