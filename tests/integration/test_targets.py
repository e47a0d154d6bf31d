"""A team's own host and allow-list on the local mesh: every name mapped to the simulated
internet, every listed port served, each listed host answered through its own cluster."""

import subprocess
import sys

import yaml

from tests.integration.test_report import ROOT

TEAM_LIST = """host,port,protocol
web.corp.example,8080,HTTP
repo.corp.example,8443,TLS
db.corp.example,5432,TCP
api.corp.example,443,HTTPS
example.org,80,HTTP
"""


def test_the_walkthrough_and_the_allow_list_run_on_a_teams_own_hosts(clean_machine, tmp_path):
    (tmp_path / "team.csv").write_text(TEAM_LIST)
    report_dir = tmp_path / "report"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "egress_conformance/suites", f"--report-dir={report_dir}", "--profile=core",
         "--profile=extended", "--run-test=core-egress", "--run-test=allow-list",
         "--external-host=api.team.example", "--external-path=/anything", f"--allow-list={tmp_path / 'team.csv'}"],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:]
    tests = {t["name"]: t for p in yaml.safe_load((report_dir / "report.yaml").read_text())["profiles"]
             for t in p["tests"]}
    assert {tests["core-egress"]["result"], tests["allow-list"]["result"]} == {"passed"}
    core = {s["step"]: s for s in tests["core-egress"]["steps"]}
    assert "GET http://api.team.example/anything -> reachable 200 via outbound|80||api.team.example" in \
        core["3 allowed: HTTP reachable"]["evidence"]
    answered = next(s for s in tests["allow-list"]["steps"] if s["step"].startswith("allowed: each"))
    assert answered["observation"]["moves"] == {
        "outbound|443||api.corp.example": 1, "outbound|5432||db.corp.example": 1, "outbound|8080||web.corp.example": 1,
        "outbound|80||example.org": 1, "outbound|8443||repo.corp.example": 1}
    # example.org is listed, so it is no longer a negative control; the other two still are.
    unlisted = [s["step"] for s in tests["allow-list"]["steps"] if "unlisted" in s["step"]]
    assert unlisted and not any("example.org" in step for step in unlisted)
