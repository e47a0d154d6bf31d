"""A run SIGKILLed at any step of the walkthrough is undone by `egress-conformance restore`:
the mesh config is back byte for byte and nothing the run created is left."""

import os
import pathlib
import subprocess
import sys

import pytest

from egress_conformance import journal, kube, meshconfig
from egress_conformance.providers.local import runstate
from tests.integration import traces

ROOT = pathlib.Path(__file__).resolve().parents[2]

STEPS = [
    "mesh wide outbound traffic policy is set to 'REGISTRY_ONLY'",
    "applied ServiceEntry",
    "clean up: delete ServiceEntry",
    "clean up: restore mesh config",
]


@pytest.mark.parametrize("step", STEPS, ids=["restricted", "entry-applied", "entry-deleted", "policy-restored"])
def test_restore_after_a_kill_at_each_step(clean_machine, suite_run, tmp_path, monkeypatch, step):
    monkeypatch.setenv("EGRESS_CONFORMANCE_STATE", str(tmp_path / "state"))
    run = suite_run()
    run.wait_for_line(step)
    run.process.kill()
    run.finish()
    pending = journal.pending()
    cluster = pending[0].data["cluster"] if pending else None
    originals = [e["original"] for j in pending for e in j.entries if e["kind"] == "mesh-config"]
    created = [e["object"] for j in pending for e in j.entries if e["kind"] == "created"]

    restored = subprocess.run([sys.executable, "-m", "egress_conformance.cli", "restore", "--no-sweep"],
                              cwd=ROOT, capture_output=True, text=True, env=os.environ)
    assert restored.returncode == 0, restored.stderr
    assert journal.pending() == []
    if cluster:  # the killed run's cluster is still up: check it from outside
        api = kube.connect(pathlib.Path(cluster["kubeconfig"]))
        if originals:
            assert meshconfig.read(api, ("istio-system", "istio")) == originals[0]
            assert "restored mesh config istio-system/istio to its original text" in restored.stdout
        for obj in created:
            assert kube.get(api, obj) is None
    runstate.sweep_stale()
    assert traces.leftovers() == []
