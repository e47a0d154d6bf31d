"""Many runs in one table: which cluster, provider, revision and Istio version each run tested,
when, and with what result (its tests' result, recomputed as `report` does). Pure but for
reading the folders given; the CLI prints the table, Markdown or HTML renders it."""

import dataclasses
import pathlib

from egress_conformance.reports import report as conformance_report
from egress_conformance.reports.model import Report, RunResult

COLUMNS = ("run", "cluster", "provider", "revision", "Istio", "date", "result")


@dataclasses.dataclass(frozen=True)
class Row:
    run: str
    """The folder (or file) as given."""
    cluster: str
    provider: str
    revision: str
    istio: str
    date: str
    result: RunResult

    def cells(self) -> tuple[str, ...]:
        return (self.run, self.cluster, self.provider, self.revision, self.istio, self.date, self.result.value)


def row(given: str, report: Report) -> Row:
    mesh = report.mesh
    unknown = "-" if mesh.reached else "not reached"
    return Row(given, mesh.cluster or unknown, mesh.provider or unknown, mesh.revision or unknown,
               mesh.istio_version or unknown, report.date, conformance_report.recomputed(report).result)


def load(given: str) -> Report:
    """The report of a run folder (its report.yaml) or of a report file; ValueError or OSError if none."""
    path = pathlib.Path(given)
    return conformance_report.load((path / "report.yaml" if path.is_dir() else path).read_text())


def table(rows: list[Row]) -> str:
    """The rows as an aligned plain-text table for a terminal."""
    cells = [COLUMNS, *(r.cells() for r in rows)]
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
                     for line in cells)


def overall(rows: list[Row]) -> RunResult:
    """The worst of the runs' results, by the report's own rule."""
    return conformance_report.overall_result([r.result for r in rows])
