"""The suite's pytest plugins, end to end on the fake mesh (tests/fakemesh.py): how each way a
test can end is classified and reported, and what the run exits with. Each run is a pytest of
its own in a subprocess (the plugins take SIGINT and SIGTERM over), about a second each."""

import json
import os
import pathlib
import subprocess
import sys
import textwrap

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]

CONFTEST = '''
import pytest

from egress_conformance import scenarios
from egress_conformance.changes.journal import Journal
from egress_conformance.fixtures import PLUGINS
from egress_conformance.hosts import targets
from egress_conformance.run import session
from egress_conformance.timing import Timing
from tests import fakemesh

pytest_plugins = list(PLUGINS)


@pytest.fixture
def mesh(tmp_path):
    """A fresh fake mesh per test (in place of the plugin's session-wide one): a test may break it."""
    provider = fakemesh.provider(targets.from_options({}, scenarios.allow_list.DEFAULT_LIST))
    yield session.Mesh(provider, Journal(provider.cluster(), tmp_path / "journal.json"), Timing())
    print(f"mesh text at the end of {provider.server.mesh_text()!r}")
'''

HEADER = '''
import json
import os
import signal

import pytest
import urllib3
from kubernetes.client.exceptions import ApiException

from egress_conformance.cluster.meshconfig import REGISTRY_ONLY
from egress_conformance.framework.scenario import CORE, Scenario
from egress_conformance.providers.base import ProviderError


def case(name, run):
    return Scenario(name, "", frozenset(), run)


class Down:
    """The API server gone: every request fails to connect."""

    def request(self, method, url, *args, **kwargs):
        raise urllib3.exceptions.MaxRetryError(None, url, "Connection refused")

    def clear(self):
        pass
'''

SUITE = '''
def fails_then_the_api_goes_down(t):
    t.context.api.rest_client.pool_manager = Down()  # the clean-up's read-back of the mesh config will fail
    raise AssertionError("HTTP reachable, expected blocked")


def forbidden(t):
    err = ApiException(status=403, reason="Forbidden")
    err.body = json.dumps({"message": 'serviceentries.networking.istio.io is forbidden: User "ci" cannot create'})
    raise err


SERVICE_ENTRY = {"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
                 "metadata": {"name": "someones", "namespace": "egress-test"},
                 "spec": {"hosts": ["api.example.org"], "ports": [{"number": 80, "name": "http", "protocol": "HTTP"}],
                          "resolution": "DNS"}}


def conflict(t):
    t.resources.create(dict(SERVICE_ENTRY))
    t.resources.create(dict(SERVICE_ENTRY))  # 409: the name is taken


def bug(t):
    return {}["missing"]


def broken_mesh(t):
    raise ProviderError("sidecar not ready: envoy exited with code -9")


def passes(t):
    t.policy.set(REGISTRY_ONLY)


CASES = [case("fails-then-api-down", fails_then_the_api_goes_down), case("forbidden", forbidden),
         case("conflict", conflict), case("bug", bug), case("broken-mesh", broken_mesh), case("passes", passes)]


@pytest.mark.parametrize("scenario", CASES, ids=lambda s: s.name)
def test_core(scenario, egress):
    scenario.execute(egress)
'''


def run_suite(tmp_path, suite: str, *extra: str):
    """Run ``suite`` with the suite's plugins on the fake mesh; (process, report, report folder)."""
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_suite.py").write_text(HEADER + textwrap.dedent(suite))
    report_dir = tmp_path / "report"
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-s",
                           f"--report-dir={report_dir}", *extra, "test_suite.py"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "EGRESS_CONFORMANCE_STATE": str(tmp_path)})
    report = yaml.safe_load((report_dir / "report.yaml").read_text())
    return done, report, report_dir


def results_of(report) -> dict[str, tuple[str, str]]:
    return {t["name"]: (t["result"], t["reason"]) for p in report["profiles"] for t in p["tests"]}


def test_each_way_a_test_ends_is_classified_once_and_only_egress_expectations_fail(tmp_path):
    done, report, report_dir = run_suite(tmp_path, SUITE)
    results = results_of(report)
    output = done.stdout + done.stderr
    # The body decides first: the fault its clean-up then hit stands beside the failure.
    result, reason = results["fails-then-api-down"]
    assert result == "failed" and reason.startswith("AssertionError: HTTP reachable, expected blocked; clean-up "
                                                    "then: API unavailable: "), reason
    assert results["forbidden"] == ("not-run", 'the API refused the run (HTTP 403 Forbidden): serviceentries.'
                                    'networking.istio.io is forbidden: User "ci" cannot create; grant '
                                    "the run's account this right (README: the RBAC table)")
    result, reason = results["conflict"]
    assert result == "not-run" and reason.startswith("the API refused the run (HTTP 409 Conflict): "), reason
    result, reason = results["bug"]
    traceback = report_dir / "evidence" / "test_core_bug_" / "traceback-call.txt"
    assert (result, reason) == ("not-run", f"suite bug: KeyError: 'missing' (traceback: {traceback})")
    assert 'return {}["missing"]' in traceback.read_text()
    assert f"not-run: suite bug: KeyError: 'missing' (traceback: {traceback})" in output
    assert 'return {}["missing"]' not in output  # one line on the console; the traceback is in the evidence
    assert results["broken-mesh"] == ("infrastructure-error", "sidecar not ready: envoy exited with code -9")
    assert results["passes"] == ("passed", "")
    assert report["result"] == "failure" and done.returncode == 1, output[-3000:]
    assert output.count("mesh text at the end of") == 6  # every test's mesh was handed back


OUTSIDE = '''
@pytest.mark.parametrize("scenario", [case("passes", lambda t: None)], ids=lambda s: s.name)
def test_core(scenario, egress):
    scenario.execute(egress)


def test_not_a_scenario():
    assert 1 + 1 == 3
'''


def test_a_failing_test_outside_the_scenarios_is_not_hidden_by_a_successful_report(tmp_path):
    done, report, _ = run_suite(tmp_path, OUTSIDE)
    assert report["result"] == "success"
    assert done.returncode == 1, done.stdout[-3000:]
    assert "1 failure(s) outside the suite's scenarios (see above): exit 1" in done.stdout


INTERRUPTED = '''
def sigterm_mid_body(t):
    t.policy.set(REGISTRY_ONLY)
    os.kill(os.getpid(), signal.SIGTERM)


def an_exec_cut_by_ctrl_c(t):
    try:
        os.kill(os.getpid(), signal.SIGINT)
    except KeyboardInterrupt:
        # What a library does that turns the signal into its own error: the exec died with the signal.
        raise ProviderError("sidecar not ready: the exec was cut") from None


@pytest.mark.parametrize("scenario", [case("{name}", {run}), case("after", lambda t: None)],
                         ids=lambda s: s.name)
def test_core(scenario, egress):
    scenario.execute(egress)
'''


def test_sigterm_mid_test_is_not_run_interrupted_exit_143_after_the_undo(tmp_path):
    done, report, _ = run_suite(tmp_path, INTERRUPTED.format(name="sigterm", run="sigterm_mid_body"))
    assert results_of(report) == {"sigterm": ("not-run", "interrupted"),
                                  "after": ("not-run", "interrupted")}
    assert report["result"] == "not run" and report["mesh"] == {"notRun": "interrupted"}
    assert done.returncode == 143, done.stdout[-3000:]
    # The undo ran: the mesh config was handed back as it was found (no REGISTRY_ONLY left).
    assert "mesh text at the end of" in done.stdout and "REGISTRY_ONLY" not in done.stdout.split("mesh text at")[1]


def test_an_exec_cut_by_ctrl_c_is_not_run_interrupted_never_a_broken_mesh(tmp_path):
    done, report, _ = run_suite(tmp_path, INTERRUPTED.format(name="cut", run="an_exec_cut_by_ctrl_c"))
    assert results_of(report)["cut"] == ("not-run", "interrupted")
    assert report["result"] == "not run"
    assert done.returncode == 130, done.stdout[-3000:]
    junit = (tmp_path / "report" / "junit.xml").read_text()
    assert "<failure" not in junit and json.dumps("not-run: interrupted")[1:-1] in junit


LOST_LEASE = '''
import threading

from egress_conformance.changes import lease


def loses_its_lease(t):
    t.policy.set(REGISTRY_ONLY)
    # What the renewing thread does once another run holds the Lease (changes/lease.py).
    renewer = threading.Thread(target=lease.stop_the_run,
                               args=("lost the lease (Lease ns/egress-conformance is held by run thief now)",))
    renewer.start()
    renewer.join()
    threading.Event().wait(30)  # the main thread is interrupted at once: never waits this long


@pytest.mark.parametrize("scenario", [case("lost", loses_its_lease), case("after", lambda t: None)],
                         ids=lambda s: s.name)
def test_core(scenario, egress):
    scenario.execute(egress)
'''


def test_a_run_that_lost_its_lease_stops_undoes_and_says_so_exit_not_run(tmp_path):
    done, report, _ = run_suite(tmp_path, LOST_LEASE)
    why = "interrupted: lost the lease (Lease ns/egress-conformance is held by run thief now)"
    assert results_of(report) == {"lost": ("not-run", why), "after": ("not-run", why)}
    assert report["result"] == "not run"
    assert done.returncode == 4, done.stdout[-3000:]
    assert f"{why}: the run's changes were undone; exit 4" in done.stdout
    assert "REGISTRY_ONLY" not in done.stdout.split("mesh text at")[1]  # undone all the same


LEFT_BEHIND = '''
def signal_before_the_undo_is_registered(t):
    # A signal inside objects.create after its journal entry, before its undo exists.
    t.context.journal.object_creating({"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
                               "metadata": {"name": "half-made", "namespace": "egress-test"}})
    os.kill(os.getpid(), signal.SIGTERM)


@pytest.mark.parametrize("scenario", [case("cut", signal_before_the_undo_is_registered)], ids=lambda s: s.name)
def test_core(scenario, egress):
    scenario.execute(egress)
'''


def test_interrupted_says_the_changes_were_undone_only_when_the_journal_is_empty(tmp_path):
    done, _, _ = run_suite(tmp_path, LEFT_BEHIND)
    assert done.returncode == 143, done.stdout[-3000:]
    assert "the run's changes were undone" not in done.stdout
    assert "interrupted: the run left changes: " in done.stdout and "ServiceEntry egress-test/half-made" in done.stdout
    assert "run `egress-conformance restore`" in done.stdout
