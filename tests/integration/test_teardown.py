"""A run leaves nothing behind, however it ends: pass, Ctrl-C, SIGTERM, or SIGKILL
(then the next run sweeps what the killed one could not undo)."""

import signal
import subprocess
import sys

import pytest

from tests.integration import traces

RESTRICTED = "mesh wide outbound traffic policy is set to 'REGISTRY_ONLY'"


def test_a_passing_run_leaves_no_trace(clean_machine, suite_run):
    run = suite_run()
    assert run.finish() == 0, run.output
    assert "1 passed" in run.output
    assert "mesh wide outbound traffic policy is set to 'ALLOW_ANY'" in run.output


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_an_interrupted_run_tears_down(clean_machine, suite_run, signum):
    run = suite_run()
    run.wait_for_line(RESTRICTED)
    run.process.send_signal(signum)
    code = run.finish()
    assert code != 0, "an interrupted run must not report success"
    assert "mesh torn down" in run.output, run.output


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
    assert "removed leftovers of an interrupted run" in restore.stdout
