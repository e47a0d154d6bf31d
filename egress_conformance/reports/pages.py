"""The report as pages people look at: report.html beside report.yaml, the side-by-side diff of
two runs, and a table over many runs. One self-contained HTML file each (styles inline, no
script, no network): folding is <details>, the timeline inline SVG (timeline.py). Jinja2
templates shipped in the package (templates/); the data they get is prepared here, so the
templates only lay it out.
"""

import os
import pathlib
import urllib.parse

import jinja2
import yaml

from egress_conformance.reports import diagnosis, diff, runs, timeline
from egress_conformance.reports.model import MeshUnderTest, Report, Step, TestResult

PAGE = "report.html"
"""The page's name in a run's report folder, beside report.yaml."""
FAILING_STEP_LOG = "failing-step-access-log.jsonl"
"""The evidence file that belongs to the failing step itself (verdicts/evidence.py)."""

_ENV = jinja2.Environment(loader=jinja2.PackageLoader("egress_conformance.reports", "templates"),
                          autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
_ENV.filters["yaml"] = lambda value: yaml.safe_dump(value, sort_keys=False, width=100).rstrip()


def report_page(report: Report, folder: pathlib.Path | None = None) -> str:
    """The page of one run; ``folder`` (its report folder) lets it list and link the evidence files."""
    tests = [_test_view(report, profile.name, test, folder) for profile in report.profiles for test in profile.tests]
    return _ENV.get_template("report.html.j2").render(
        report=report, mesh=mesh_facts(report.mesh), profiles=", ".join(p.name for p in report.profiles) or "none",
        diagnoses=diagnosis.of_report(report), tests=tests)


def write_report_page(report: Report, folder: pathlib.Path) -> pathlib.Path:
    """Write report.html into the run's report folder."""
    path = folder / PAGE
    path.write_text(report_page(report, folder))
    return path


def diff_page(before: Report, after: Report, labels: tuple[str, str], links: tuple[str | None, str | None],
              timing_threshold: float = diff.TIMING_THRESHOLD) -> str:
    """Two runs side by side, per test and step, regressions first. ``labels`` name the runs,
    ``links`` are hrefs to their own pages (None: no page to link)."""
    changes = diff.compare(before, after, timing_threshold)
    return _ENV.get_template("diff.html.j2").render(
        labels=labels, links=links, reports=(before, after), meshes=(mesh_facts(before.mesh), mesh_facts(after.mesh)),
        pairs=diff.side_by_side(before, after), regressions=len(changes.regressions),
        mesh_change=changes.mesh, step_cell=_step_cell)


def summary_page(rows: list[runs.Row]) -> str:
    return _ENV.get_template("summary.html.j2").render(rows=rows, columns=runs.COLUMNS)


def relative_link(target: pathlib.Path, page_folder: pathlib.Path) -> str:
    """An href from a page in ``page_folder`` to ``target`` (both made absolute first)."""
    relative = os.path.relpath(target.resolve(), page_folder.resolve())
    return urllib.parse.quote(pathlib.PurePath(relative).as_posix())


def mesh_facts(mesh: MeshUnderTest) -> list[tuple[str, str]]:
    """(label, value) of what the report knows about the mesh, in reading order."""
    if not mesh.reached:
        return [("not reached", mesh.not_run or "")]
    facts = [("provider", mesh.provider), ("cluster", mesh.cluster), ("Kubernetes", mesh.kubernetes_version),
             ("Istio", mesh.istio_version), ("revision", mesh.revision), ("mesh config", mesh.mesh_config),
             ("starting policy", mesh.starting_policy),
             ("mesh-wide changes", mesh.mesh_wide_changes.value if mesh.mesh_wide_changes else None)]
    return [(label, value) for label, value in facts if value is not None]


def _test_view(report: Report, profile: str, test: TestResult, folder: pathlib.Path | None) -> dict:
    files = _evidence_files(report, test, folder)
    failing = diagnosis.failing_step(test)
    steps = [{"step": step, "index": index, "failing": step is failing,
              "evidence": [f for f in files if f[0] == FAILING_STEP_LOG] if step is failing else []}
             for index, step in enumerate(test.steps, 1)]
    timed = [s for s in test.steps if s.seconds is not None]
    return {"key": f"{profile}/{test.name}", "anchor": _anchor(f"{profile}-{test.name}-{test.scope or ''}"),
            "test": test, "timeline": timeline.of_steps(test.steps), "steps": steps, "files": files,
            "diagnosis": diagnosis.of_test(profile, test) if test.result in diagnosis.NOT_PASSED else None,
            "waited_seconds": round(sum(s.seconds or 0 for s in timed), 2), "timed": timed}


def _evidence_files(report: Report, test: TestResult, folder: pathlib.Path | None) -> list[tuple[str, str]]:
    """(file name, href relative to the page) of the test's evidence. The report stores absolute
    paths; the page links them relative to its folder, so a copied folder (a CI artifact) works."""
    if not test.evidence or folder is None:
        return []
    stored = pathlib.Path(test.evidence)
    inside = stored
    if report.evidence_directory and stored.is_relative_to(report.evidence_directory):
        inside = folder / "evidence" / stored.relative_to(report.evidence_directory)
    if not inside.is_dir():
        return []
    return [(path.name, relative_link(path, folder)) for path in sorted(inside.iterdir()) if path.is_file()]


def _step_cell(step: Step | None) -> dict:
    """One side of a step row in the diff."""
    if step is None:
        return {"verdict": "absent", "lines": ["not in this run"]}
    observation = step.observation or {}
    lines = [f"{observation.get('outcome')} {observation.get('status') or ''}".strip()] if observation else []
    if observation.get("served_by"):
        lines.append("via " + ", ".join(observation["served_by"]))
    if step.seconds is not None:
        lines.append(f"{step.seconds}s, {step.attempts} attempts")
    if step.detail:
        lines.append(step.detail)
    return {"verdict": step.verdict.value, "lines": lines}


def _anchor(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in text).strip("-")
