"""The report pages in a real browser: Debian's Chromium (installed by ci/setup), driven over the
DevTools protocol (tests/cdp.py), on pages made from real runs of the local mesh: one that passed,
one that failed on a genuinely broken mesh, and the diff of the two.

The broken mesh: its mesh config exports every ServiceEntry nowhere unless the entry says
otherwise (`defaultServiceExportTo: ["~"]`), so the walkthrough's ServiceEntry opens nothing and
"3 allowed: HTTP reachable" fails with the sidecar lacking the host's cluster.

Each page is looked at with JavaScript on and off (the pages have none; folding is <details>):
the result, the failing step and its diagnosis are on screen, a folded section opens on a real
mouse click, the browser logs no error, and a screenshot of the whole page is saved in the test's
tmp folder. Without Chromium the test is skipped with the reason, and fails under CI (CI=true),
where ci/setup installs it."""

import os
import pathlib
import subprocess
import sys
import time

import pytest
import yaml

from tests import cdp
from tests.integration import traces
from tests.integration.conftest import _missing_prerequisite, _under_ci

ROOT = pathlib.Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "egress_conformance.cli"]
FAILING = "3 allowed: HTTP reachable"

BROKEN_MESH = """accessLogEncoding: JSON
accessLogFile: /dev/stdout
enableTracing: false
outboundTrafficPolicy:
  mode: ALLOW_ANY
rootNamespace: istio-system
trustDomain: cluster.local
defaultServiceExportTo:
- "~"
"""


@pytest.fixture(scope="module")
def chromium_present():
    if cdp.CHROMIUM.exists():
        return
    reason = f"{cdp.CHROMIUM} is missing: run ci/setup (it installs Debian's chromium for this test)"
    if _under_ci():
        pytest.fail(f"{reason} (CI=true: the project's own set-up provides it, so CI fails without it)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def runs(chromium_present, tmp_path_factory) -> dict[str, pathlib.Path]:
    """Real runs of the local mesh's core walkthrough: passed, failed (broken mesh), and the diff page."""
    missing = _missing_prerequisite()
    if missing:
        pytest.fail(missing, pytrace=False)
    assert traces.leftovers() == [], "a previous run left traces; fix that first"
    folder = tmp_path_factory.mktemp("runs")
    env = {**os.environ, "EGRESS_CONFORMANCE_STATE": str(folder / "state")}
    (folder / "broken-mesh.yaml").write_text(BROKEN_MESH)
    made = {"passed": folder / "passed", "failed": folder / "failed"}
    for name, extra, code in (("passed", [], 0),
                              ("failed", [f"--local-mesh-config={folder / 'broken-mesh.yaml'}",
                                          "--convergence-timeout=10"], 1)):
        result = subprocess.run([*CLI, "run", "--run-test=core-egress", f"--report-dir={made[name]}", *extra],
                                cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        assert result.returncode == code, result.stdout[-3000:] + result.stderr[-2000:]
        assert (made[name] / "report.html").is_file(), "every run writes its page beside report.yaml"
    assert traces.leftovers() == []
    made["diff"] = folder / "pages" / "diff.html"
    made["diff"].parent.mkdir()
    result = subprocess.run([*CLI, "diff", str(made["passed"]), str(made["failed"]), "--html", str(made["diff"])],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "REGRESSION" in result.stdout, result.stdout + result.stderr
    return made


@pytest.fixture(scope="module")
def browser(chromium_present, tmp_path_factory):
    chrome = cdp.Chromium(tmp_path_factory.mktemp("chromium-profile"))
    yield chrome
    chrome.close()


def opened(browser: cdp.Chromium, path: pathlib.Path, javascript: bool) -> cdp.Page:
    page = browser.new_page(javascript=javascript)
    page.open(path)
    return page


def click_open(page: cdp.Page, details: str) -> None:
    """A folded section is closed, and open after a click on its summary."""
    assert page.attribute(details, "open") is None, f"{details} is open before the click"
    page.click(f"{details} > summary")
    deadline = time.monotonic() + 5
    while page.attribute(details, "open") is None:
        assert time.monotonic() < deadline, f"{details} did not open on a click"
        time.sleep(0.05)


def finish(page: cdp.Page, tmp_path: pathlib.Path, name: str) -> None:
    assert page.errors() == [], page.errors()
    shot = page.screenshot(tmp_path / f"{name}.png")
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG") and len(data) > 20_000, "a screenshot of a rendered page"


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_the_passed_runs_page(runs, browser, tmp_path, javascript):
    page = opened(browser, runs["passed"] / "report.html", javascript)
    assert page.visible("#result") and "success" in page.text("#result")
    assert page.visible("svg.timeline") and not _has(page, "#why"), "a passed run has nothing to diagnose"
    mesh = page.text("#run")
    assert "local" in mesh and "v1.36.3" in mesh and "istio-system/istio" in mesh
    assert not page.visible("details.step .inside")
    click_open(page, "details.step")
    assert page.visible("details.step .inside")
    finish(page, tmp_path, f"passed-{'js' if javascript else 'no-js'}")


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_the_failed_runs_page_shows_the_failing_step_and_why(runs, browser, tmp_path, javascript):
    document = yaml.safe_load((runs["failed"] / "report.yaml").read_text())
    assert document["result"] == "failure"
    page = opened(browser, runs["failed"] / "report.html", javascript)
    assert page.visible("#result") and "failure" in page.text("#result")
    assert page.visible("#why .failing-step") and FAILING in page.text("#why .failing-step")
    assert page.visible("#why .sentence")
    assert "sidecar lacks cluster outbound|80||httpbin.org" in page.text("#why .sentence")
    # The failing step is unfolded; the evidence files are folded until clicked, then linked relatively.
    assert page.visible("details.step-failed .inside")
    assert not page.visible("details.evidence a")
    click_open(page, "details.evidence")
    assert page.visible("details.evidence a")
    link = page.attribute("details.evidence a", "href")
    assert link and not link.startswith(("/", "file:")) and (runs["failed"] / link).is_file()
    finish(page, tmp_path, f"failed-{'js' if javascript else 'no-js'}")


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_the_diff_page_leads_with_the_regression(runs, browser, tmp_path, javascript):
    page = opened(browser, runs["diff"], javascript)
    assert page.visible("#regressions") and "1 regression" in page.text("#regressions")
    assert page.visible("details.regression-test tr.regressed")
    assert FAILING in page.text("details.regression-test tr.regressed")
    assert page.attribute("h2 a", "href") == "../passed/report.html"
    finish(page, tmp_path, f"diff-{'js' if javascript else 'no-js'}")


def _has(page: cdp.Page, selector: str) -> bool:
    root = page.root()
    return bool(page.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"])
