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

RESTRICTED = "mesh wide outbound traffic policy is set to 'REGISTRY_ONLY'"


def test_a_passing_run_leaves_no_trace(clean_machine, suite_run):
    run = suite_run()
    assert run.finish() == 0, run.output
    assert "result: SUCCESS" in run.output and "failed" not in run.output
    assert "mesh wide outbound traffic policy is set to 'ALLOW_ANY'" in run.output


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_an_interrupted_run_tears_down(clean_machine, suite_run, signum, tmp_path):
    run = suite_run(f"--report-dir={tmp_path}")
    run.wait_for_line(RESTRICTED)
    run.process.send_signal(signum)
    code = run.finish()
    assert code != 0, "an interrupted run must not report success"
    assert "mesh torn down" in run.output, run.output
    document = yaml.safe_load((tmp_path / "report.yaml").read_text())
    assert document["result"] != "success" and document["profiles"][0]["tests"][0]["result"] != "passed"


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
