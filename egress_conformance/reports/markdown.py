"""Short Markdown for CI job pages (GitHub's step summary, a GitLab artifact): the result, the
mesh, the claim, the findings, why each test that did not pass did not, and one line per test;
and the table over many runs. CommonMark with GitHub's pipe tables; every cell is escaped."""

from egress_conformance.reports import diagnosis, pages, runs
from egress_conformance.reports.model import Report


def report_summary(report: Report) -> str:
    lines = [f"### Egress conformance: {report.result.upper()}", ""]
    facts = [("date", report.date), *pages.mesh_facts(report.mesh)]
    if report.claimed_scopes is not None:
        facts.append(("claim", f"scopes {', '.join(report.claimed_scopes)}; profiles "
                               f"{', '.join(p.name for p in report.profiles) or 'none'}"))
    lines += ["| | |", "|---|---|", *(f"| {cell(label)} | {cell(value)} |" for label, value in facts), ""]
    if report.findings:
        lines += ["**Findings**", "", *(f"- {escape(finding)}" for finding in report.findings), ""]
    for found in diagnosis.of_report(report):
        step = f" at step `{code(found.step.name)}`" if found.step else ""
        lines += [f"**{escape(found.key)}** {found.test.result.value}{step}: {escape(found.sentence)}", ""]
    lines += ["| profile | test | scope | result | steps |", "|---|---|---|---|---|"]
    for profile in report.profiles:
        for test in profile.tests:
            passed = sum(1 for s in test.steps if s.verdict != "failed")
            lines.append(f"| {cell(profile.name)} | {cell(test.name)} | {cell(test.scope or '')} | "
                         f"{cell(test.result.value)} | {passed}/{len(test.steps)} |")
    return "\n".join(lines) + "\n"


def runs_table(rows: list[runs.Row]) -> str:
    lines = ["| " + " | ".join(runs.COLUMNS) + " |", "|" + "---|" * len(runs.COLUMNS)]
    lines += ["| " + " | ".join(cell(value) for value in row.cells()) + " |" for row in rows]
    return "\n".join(lines) + "\n"


_SPECIAL = "\\`*_[]<>#!|~"
"""Characters CommonMark (and GitHub's tables: the pipe) would read as markup."""


def escape(text: str) -> str:
    """Text that CommonMark shows as it is (a backslash before each punctuation mark it would read)."""
    return "".join(f"\\{c}" if c in _SPECIAL else c for c in " ".join(str(text).split()))


def cell(text) -> str:
    """A table cell: escaped, on one line."""
    return escape(str(text)) if text not in (None, "") else " "


def code(text: str) -> str:
    """Text inside a code span: backticks cannot be escaped there, so they become quotes."""
    return " ".join(str(text).split()).replace("`", "'")
