"""The report's pages, rendered from a real report of the core profile on the local mesh and from
variants of it edited the way a failure would: what a person must see (result, failing step,
diagnosis), that the page stands alone (no script, nothing fetched), that evidence links are
relative and lead to the files, and the timeline drawn to scale."""

import copy
import pathlib
import re

import pytest
import yaml

from egress_conformance import cli
from egress_conformance.reports import diagnosis, pages, report, timeline
from egress_conformance.reports.model import Report, Result, Step, Verdict

DATA = pathlib.Path(__file__).parent / "data" / "report_core_success.yaml"
FAILING = "3 allowed: HTTP reachable"


@pytest.fixture
def document():
    return yaml.safe_load(DATA.read_text())


def by_name(document):
    return {t["name"]: t for p in document["profiles"] for t in p["tests"]}


def failed(document, folder: pathlib.Path | None = None) -> dict:
    """The run with core-egress failed at FAILING: the ServiceEntry did not open httpbin.org."""
    broken = copy.deepcopy(document)
    test = by_name(broken)["core-egress"]
    steps = test["steps"]
    index = next(i for i, s in enumerate(steps) if s["step"] == FAILING)
    step = steps[index]
    step.update(verdict="failed", detail="reset via BlackHoleCluster, expected via outbound|80||httpbin.org",
                attempts=61, seconds=60.02)
    step["observation"].update(outcome="reset", status=None, served_by=["BlackHoleCluster"])
    test["steps"] = steps[:index + 1]
    test["result"] = "failed"
    test["reason"] = f"NotConverged: {FAILING}"
    if folder is not None:
        broken["evidenceDirectory"] = str(folder / "evidence")
        test["evidence"] = str(folder / "evidence" / "test_core_core-egress_")
    broken["result"] = "failure"
    broken["profiles"][0]["result"] = "failure"
    return broken


def load(document: dict) -> Report:
    return Report.from_dict(document)


def test_the_diagnosis_is_one_sentence_naming_the_step_what_it_expected_and_what_it_saw(document):
    [found] = diagnosis.of_report(load(failed(document)))
    assert found.key == "core/core-egress" and found.step is not None and found.step.name == FAILING
    assert found.sentence == (
        "Step '3 allowed: HTTP reachable' expected sidecar enforces REGISTRY_ONLY and sidecar has "
        "outbound|80||httpbin.org and reachable via outbound|80||httpbin.org, but reset via BlackHoleCluster, "
        "expected via outbound|80||httpbin.org in 61 attempts over 60.02s; the last request GET "
        "http://httpbin.org/get was reset via BlackHoleCluster.")
    assert found.sentence.count(". ") == 0 and "\n" not in found.sentence


def test_a_failed_api_step_and_a_test_without_steps_have_their_own_sentence():
    api = Step("API: mesh config istio-system/istio sets ALLOW_ANY", Verdict.FAILED, "read back REGISTRY_ONLY")
    document = yaml.safe_load(DATA.read_text())
    test = load(document).profiles[0].tests[0]
    assert diagnosis.sentence(test, api) == ("Step 'API: mesh config istio-system/istio sets ALLOW_ANY' failed: "
                                             "the API read back REGISTRY_ONLY.")
    test = by_name(document)["core-egress"]
    test.update(result="not-run", reason="ServiceEntry other/httpbin exports httpbin.org to every namespace", steps=[])
    [found] = diagnosis.of_report(load(document))
    assert found.step is None and found.sentence == "ServiceEntry other/httpbin exports httpbin.org to every namespace."


def test_the_timeline_is_to_scale_with_api_steps_as_points_and_waits_as_bars(document):
    test = load(document).profiles[0].tests[0]
    drawn = timeline.of_steps(test.steps)
    assert drawn.untimed == 3, "the saved report is older than API steps' times"
    waits = [lane for lane in drawn.lanes if lane.kind == "wait"]
    assert len(waits) == 8 and waits[0].x == timeline.LABEL_WIDTH
    scale = (drawn.plot_right - drawn.plot_left) / drawn.seconds
    for lane, step in zip(waits, [s for s in test.steps if s.waited], strict=True):
        assert lane.width == pytest.approx(step.seconds * scale, abs=1.0)  # seconds are rounded to 0.01
    assert max(lane.x + lane.width for lane in waits) == pytest.approx(drawn.plot_right, abs=0.2)
    assert [label for _, label in drawn.ticks][:3] == ["0s", "2s", "4s"]

    api = Step("API: set", Verdict.PASSED, started="2026-11-28T09:08:35.500+00:00")
    drawn = timeline.of_steps([test.steps[1], api])
    point = drawn.lanes[1]
    assert point.kind == "api" and point.width == 0 and point.x > drawn.lanes[0].x + drawn.lanes[0].width


def test_a_report_without_times_draws_no_timeline_and_says_so():
    steps = (Step("API: x", Verdict.PASSED), Step("y", Verdict.PASSED, check="c", attempts=1, seconds=1.0))
    assert not timeline.of_steps(steps).drawn and timeline.of_steps(steps).untimed == 2


def standalone(html: str) -> None:
    assert "<script" not in html.lower() and "javascript:" not in html.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html), "a link or resource off the page"
    assert "@import" not in html and "url(" not in html


def test_a_passed_run_page_stands_alone_and_shows_result_claim_and_mesh(document):
    html = pages.report_page(load(document))
    standalone(html)
    assert '<span class="badge success big">success</span>' in html
    for shown in ("mesh-wide, namespace", "istio-system/istio", "1.31-dev+eed52ebb66ad", "v1.36.3", "ALLOW_ANY",
                  "<svg class=\"timeline\""):
        assert shown in html, shown
    assert "Why it did not pass" not in html and "<details class=\"step step-passed\" open" not in html


def test_a_failed_run_page_leads_with_the_failing_step_its_diagnosis_and_links_its_evidence(document, tmp_path):
    evidence = tmp_path / "evidence" / "test_core_core-egress_"
    evidence.mkdir(parents=True)
    for name in ("config_dump.json", "failing-step-access-log.jsonl", "stats.txt"):
        (evidence / name).write_text("{}\n")
    folder = tmp_path / "moved"  # the folder as a CI artifact: elsewhere than the run wrote it
    tmp_path.joinpath("evidence").rename(tmp_path / "evidence-moved")
    folder.mkdir()
    (tmp_path / "evidence-moved").rename(folder / "evidence")
    shown = load(failed(document, tmp_path))
    html = pages.report_page(shown, folder)
    standalone(html)
    why = html.index('id="why"')
    assert html.index(FAILING) > why and html.index(diagnosis.of_report(shown)[0].sentence.replace("'", "&#39;")) > why
    assert '<details class="step step-failed" open>' in html
    links = re.findall(r'href="([^"#]+)"', html)
    assert links and all(not pathlib.PurePath(link).is_absolute() for link in links)
    assert sorted(pathlib.PurePath(link).name for link in links) == [
        "config_dump.json", "failing-step-access-log.jsonl", "failing-step-access-log.jsonl", "stats.txt"]
    assert all((folder / link).is_file() for link in links)


def test_text_from_the_mesh_is_escaped(document):
    by_name(document)["core-egress"]["steps"][1]["step"] = "<img src=x onerror=alert(1)>"
    html = pages.report_page(load(document))
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


def test_the_diff_page_puts_regressions_first_side_by_side(document):
    before = load(document)
    after = load(failed(document))
    html = pages.diff_page(before, after, ("run-a", "run-b"), ("../a/report.html", None))
    standalone(html.replace('href="../a/report.html"', ""))
    assert '<strong id="regressions">1 regression</strong>' in html
    assert html.index("core/core-egress<") < html.index("core/core-egress-in-namespace<")
    assert '<a href="../a/report.html">run-a</a>' in html and "run-b" in html
    regressed = re.search(r'<tr class="regressed">\s*<td>([^<]+)</td>', html)
    assert regressed and regressed.group(1) == FAILING
    assert html.count('class="regressed"') == 1


def test_diff_html_writes_the_page_and_links_each_runs_own_page(document, tmp_path, capsys):
    for name, doc in (("a", document), ("b", failed(document))):
        (tmp_path / name).mkdir()
        (tmp_path / name / "report.yaml").write_text(report.dump_yaml(load(doc)))
    pages.write_report_page(load(document), tmp_path / "a")
    out = tmp_path / "out" / "diff.html"
    out.parent.mkdir()
    assert cli.main(["diff", str(tmp_path / "a"), str(tmp_path / "b"), "--html", str(out)]) == 1
    html = out.read_text()
    assert 'href="../a/report.html"' in html and "1 regression" in html
    assert "REGRESSION" in capsys.readouterr().out


def test_report_writes_html_to_stdout_for_a_saved_run(document, tmp_path, capsys):
    (tmp_path / "report.yaml").write_text(report.dump_yaml(load(failed(document))))
    assert cli.main(["report", str(tmp_path), "--format", "html"]) == 1
    html = capsys.readouterr().out
    assert html.startswith("<!DOCTYPE html>") and FAILING in html


def test_the_page_of_a_run_that_never_reached_the_mesh_says_why(document):
    document["mesh"] = {"notRun": "the local mesh's components are not installed: run ci/setup"}
    for test in by_name(document).values():
        test.update(result=Result.NOT_RUN.value, reason="the mesh was not reached", steps=[])
    html = pages.report_page(report.recomputed(load(document)))
    assert "not reached" in html and "run ci/setup" in html and "No step of this test" not in html
    assert '<span class="badge not run big">not run</span>' in html
