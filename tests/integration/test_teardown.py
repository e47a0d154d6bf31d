"""A run leaves nothing behind, however it ends: pass, Ctrl-C, SIGTERM, or SIGKILL
(then the next run sweeps what the killed one could not undo)."""

import pathlib
import signal
import subprocess
import sys

import pytest
import yaml

from egress_conformance.cluster import kube, meshconfig
from tests.integration import traces
from tests.integration.conftest import CLI_RUN

RESTRICTED = "mesh wide outbound traffic policy is set to 'REGISTRY_ONLY'"
POINTS = {"bring-up": "bringing up the local mesh", "teardown": "tearing down the local mesh"}
"""Lines the run prints as it starts the mesh and as it undoes it at the end (RESTRICTED: inside the test)."""


def test_a_passing_run_leaves_no_trace(clean_machine, suite_run):
    run = suite_run()
    assert run.finish() == 0, run.output
    assert "result: SUCCESS" in run.output and "failed" not in run.output
    assert "mesh wide outbound traffic policy is set to 'ALLOW_ANY'" in run.output


def assert_interrupted(run, code: int, report_dir, signum: int) -> None:
    """Interrupted is "not run" with the reason "interrupted" for the test it cut, 128 + the signal
    after the undo, never an infrastructure error because an exec or a request died with it."""
    assert code == 128 + signum, run.output[-3000:]
    assert "mesh torn down" in run.output, run.output
    document = yaml.safe_load((report_dir / "report.yaml").read_text())
    tests = [test for profile in document["profiles"] for test in profile["tests"]]
    assert document["result"] == "not run" and tests, document
    assert [(t["result"], t["reason"]) for t in tests] == [("not-run", "interrupted")] * len(tests)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_an_interrupted_run_tears_down(clean_machine, suite_run, signum, tmp_path):
    run = suite_run(f"--report-dir={tmp_path}")
    run.wait_for_line(RESTRICTED)
    run.process.send_signal(signum)
    assert_interrupted(run, run.finish(), tmp_path, signum)


@pytest.mark.parametrize("point", ["bring-up", "teardown"])
def test_ctrl_c_at_any_point_is_not_run_interrupted_and_exits_130_after_the_undo(clean_machine, suite_run, tmp_path,
                                                                                 point):
    run = suite_run(f"--report-dir={tmp_path}", "--run-test=core-egress")
    run.wait_for_line(POINTS[point])
    run.process.send_signal(signal.SIGINT)
    assert_interrupted(run, run.finish(), tmp_path, signal.SIGINT)


def test_ctrl_c_under_the_command_exits_130_with_the_report_saying_interrupted(clean_machine, suite_run, tmp_path):
    run = suite_run(f"--report-dir={tmp_path}", "--run-test=core-egress", command=CLI_RUN)
    run.wait_for_line(RESTRICTED)
    run.process.send_signal(signal.SIGINT)
    assert_interrupted(run, run.finish(), tmp_path, signal.SIGINT)


def test_a_killed_run_is_undone_by_restore(clean_machine, suite_run):
    run = suite_run()
    run.wait_for_line(RESTRICTED)
    run.process.kill()
    run.finish()
    assert traces.leftovers(), "SIGKILL cannot be cleaned up in-process; the records should remain"
    restore = subprocess.run([sys.executable, "-m", "egress_conformance.cli", "restore"],
                             capture_output=True, text=True)
    assert restore.returncode == 0, restore.stderr
    assert "restored mesh config istio-system/istio to its original text" in restore.stdout
    assert "stopped the local mesh of an earlier run" in restore.stdout


def test_a_kept_run_stays_until_restore(clean_machine, suite_run):
    run = suite_run("--keep")
    assert run.finish() == 0, run.output
    kept = [line for line in run.lines if "kept the local mesh as it is" in line]
    assert kept, run.output
    kubeconfig = kept[0].split("kubeconfig ")[1].split(";")[0]
    assert traces.leftovers(), "--keep must leave the mesh running"
    api = kube.connect(pathlib.Path(kubeconfig))
    assert meshconfig.policy_of(meshconfig.read(api, ("istio-system", "istio"))) == meshconfig.ALLOW_ANY
    # The kept mesh is a real cluster for the `policy` command too.
    for word, policy in (("restricted", meshconfig.REGISTRY_ONLY), ("allowed", meshconfig.ALLOW_ANY)):
        changed = subprocess.run([sys.executable, "-m", "egress_conformance.cli", "policy", word,
                                  f"--kubeconfig={kubeconfig}"], capture_output=True, text=True)
        assert changed.stdout == (f"mesh wide outbound traffic policy is set to '{policy}' (ConfigMap "
                                  "istio-system/istio, revision default)\n"), changed.stderr
        assert meshconfig.policy_of(meshconfig.read(api, ("istio-system", "istio"))) == policy
    restore = subprocess.run([sys.executable, "-m", "egress_conformance.cli", "restore"],
                             capture_output=True, text=True)
    assert restore.returncode == 0 and "stopped the local mesh of an earlier run" in restore.stdout, restore.stdout
