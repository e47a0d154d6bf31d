"""The Markdown a CI job page shows, read back by a CommonMark parser (markdown-it-py, with the
pipe tables GitHub and GitLab render): each table is a table with the cells intended, text from
the mesh stays text; and the table over many runs in each of its formats."""

import copy
import pathlib

import pytest
import yaml
from markdown_it import MarkdownIt

from egress_conformance import cli
from egress_conformance.reports import markdown, report, runs
from egress_conformance.reports.model import Report, RunResult

DATA = pathlib.Path(__file__).parent / "data" / "report_core_success.yaml"


@pytest.fixture
def document():
    return yaml.safe_load(DATA.read_text())


def parsed(text: str):
    return MarkdownIt("commonmark").enable("table").parse(text)


def tables(text: str) -> list[list[list[str]]]:
    """Each table's rows of cell texts, as the parser reads them."""
    found, rows, row = [], None, None
    for token in parsed(text):
        if token.type == "table_open":
            rows = []
        elif token.type == "tr_open":
            row = []
        elif token.type == "inline" and row is not None:
            row.append("".join(child.content for child in token.children if child.type in ("text", "code_inline")))
        elif token.type == "tr_close":
            rows.append(row)
            row = None
        elif token.type == "table_close":
            found.append(rows)
    return found


def paragraphs(text: str) -> list[str]:
    tokens = parsed(text)
    return ["".join(c.content for c in tokens[i + 1].children) for i, t in enumerate(tokens)
            if t.type == "paragraph_open"]


def failed(document: dict) -> dict:
    broken = copy.deepcopy(document)
    test = broken["profiles"][0]["tests"][0]
    test["steps"][1].update(verdict="failed", detail="reset via *BlackHoleCluster* | not `reachable`")
    test["steps"][1]["step"] = "0 baseline | with_underscores_and *stars*"
    test.update(result="failed", reason="NotConverged")
    broken["findings"] = ["ServiceEntry team_a/httpbin exports httpbin.org to every namespace <b>"]
    return broken


def test_the_summary_of_a_passed_run_is_two_tables_with_every_fact_intact(document):
    text = markdown.report_summary(Report.from_dict(document))
    assert [t.type for t in parsed(text)][:3] == ["heading_open", "inline", "heading_close"]
    facts, tests = tables(text)
    assert dict(facts[1:]) == {
        "date": "2026-11-28T09:09:11+00:00", "provider": "local", "Kubernetes": "v1.36.3",
        "Istio": "1.31-dev+eed52ebb66ad", "revision": "default", "mesh config": "istio-system/istio",
        "starting policy": "ALLOW_ANY", "mesh-wide changes": "allowed", "claim": "scopes mesh-wide, namespace; profiles core"}
    assert tests == [["profile", "test", "scope", "result", "steps"],
                     ["core", "core-egress", "mesh-wide", "passed", "11/11"],
                     ["core", "core-egress-in-namespace", "namespace", "passed", "11/11"]]


def test_a_failed_runs_summary_names_the_failing_step_and_keeps_markup_in_names_as_text(document):
    text = markdown.report_summary(report.recomputed(Report.from_dict(failed(document))))
    assert "### Egress conformance: FAILURE" in text
    said = paragraphs(text)
    assert "ServiceEntry team_a/httpbin exports httpbin.org to every namespace <b>" in [
        "".join(c.content for c in t.children) for t in parsed(text) if t.type == "inline"]
    [why] = [p for p in said if p.startswith("core/core-egress failed at step ")]
    assert "0 baseline | with_underscores_and *stars*" in why
    assert "reset via *BlackHoleCluster* | not `reachable`" in why
    html = MarkdownIt("commonmark").enable("table").render(text)
    assert "<em>" not in html and "<b>" not in html, "markup in the mesh's text must stay text"
    assert tables(text)[1][1][3] == "failed"


def write_runs(document: dict, tmp_path: pathlib.Path) -> list[str]:
    folders = []
    for name, doc, cluster in (("b", failed(document), "kind-egress"), ("a", document, "prod|eu")):
        doc = copy.deepcopy(doc)
        doc["mesh"]["cluster"] = cluster
        doc["date"] = "2026-11-29T10:00:00+00:00" if name == "b" else "2026-11-28T10:00:00+00:00"
        (tmp_path / name).mkdir()
        (tmp_path / name / "report.yaml").write_text(report.dump_yaml(Report.from_dict(doc)))
        folders.append(str(tmp_path / name))
    return folders


def test_summary_lists_runs_by_date_in_each_format_and_exits_with_the_worst(document, tmp_path, capsys):
    folders = write_runs(document, tmp_path)
    assert cli.main(["summary", *folders]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["run", "cluster", "provider", "revision", "Istio", "date", "result"]
    assert [line.split()[1] for line in lines[1:]] == ["prod|eu", "kind-egress"]
    assert lines[2].split()[-1] == "failure"

    assert cli.main(["summary", "--format", "markdown", *folders]) == 1
    [table] = tables(capsys.readouterr().out)
    assert table[1][1:] == ["prod|eu", "local", "default", "1.31-dev+eed52ebb66ad", "2026-11-28T10:00:00+00:00",
                            "success"]
    assert cli.main(["summary", "--format", "html", *folders]) == 1
    html = capsys.readouterr().out
    assert "<script" not in html and html.count("<tr>") == 3 and "prod|eu" in html


def test_summary_names_a_folder_without_a_report(tmp_path, capsys):
    assert cli.main(["summary", str(tmp_path)]) == 1
    assert f"no report at {tmp_path}" in capsys.readouterr().err


def test_report_format_markdown_exits_with_the_result(document, tmp_path, capsys):
    (tmp_path / "report.yaml").write_text(report.dump_yaml(Report.from_dict(failed(document))))
    assert cli.main(["report", str(tmp_path), "--format", "markdown"]) == 1
    assert capsys.readouterr().out.startswith("### Egress conformance: FAILURE\n")


def test_a_row_of_a_run_that_never_reached_the_mesh_says_so():
    never = Report("2026-11-28", Report.from_dict(yaml.safe_load(DATA.read_text())).mesh.never_reached("x"), None,
                   RunResult.NOT_RUN, None, ())
    row = runs.row("r", never)
    assert (row.cluster, row.provider, row.result) == ("not reached", "not reached", RunResult.NOT_RUN)
