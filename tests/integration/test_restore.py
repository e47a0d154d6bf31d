"""A run SIGKILLed at any step of the walkthrough is undone by `egress-conformance restore`:
the mesh config is back byte for byte and nothing the run created is left.

The original is known independently of the journal under test: it is the text the
local provider installs (istio_install.mesh_config), read through the API while
the killed run's cluster is still up; the objects are the scenario's manifests.
"""

import os
import pathlib
import subprocess
import sys

import pytest
from kubernetes import client

from egress_conformance.changes import journal
from egress_conformance.cluster import kube, meshconfig
from egress_conformance.hosts import targets
from egress_conformance.providers.local import istio_install, runstate
from egress_conformance.providers.local import provider as local
from egress_conformance.scenarios import allow_list, core_egress
from tests.integration import traces

ROOT = pathlib.Path(__file__).resolve().parents[2]

STEPS = [
    "mesh wide outbound traffic policy is set to 'REGISTRY_ONLY'",
    "applied ServiceEntry",
    "clean up: delete ServiceEntry",
    "clean up: restore mesh config",
]
ORIGINAL = istio_install.mesh_config(local.XDS_ADDRESS)


@pytest.mark.parametrize("step", STEPS, ids=["restricted", "entry-applied", "entry-deleted", "policy-restored"])
def test_restore_after_a_kill_at_each_step(clean_machine, suite_run, tmp_path, monkeypatch, step):
    monkeypatch.setenv("EGRESS_CONFORMANCE_STATE", str(tmp_path / "state"))
    run = suite_run()
    run.wait_for_line(step)
    run.process.kill()
    run.finish()
    # The killed run's cluster, found on disk (the run's folder), not through its journal.
    kubeconfigs = list(pathlib.Path("/tmp").glob("egress-conformance-*/kubeconfig"))
    assert len(kubeconfigs) == 1, f"expected the killed run's cluster to be up: {kubeconfigs}"
    api = kube.connect(kubeconfigs[0])

    restored = subprocess.run([sys.executable, "-m", "egress_conformance.cli", "restore", "--no-sweep"],
                              cwd=ROOT, capture_output=True, text=True, env=os.environ)
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert journal.pending() == []
    assert meshconfig.read(api, ("istio-system", "istio")) == ORIGINAL
    namespaces = [n.metadata.name for n in client.CoreV1Api(api).list_namespace().items
                  if n.metadata.name.startswith("egress-conformance-")]
    for manifest in sorted(core_egress.SCENARIO.manifests.glob("*.yaml")):
        for obj in kube.load_manifests(manifest, namespace="placeholder", **targets.from_options({}, allow_list.DEFAULT_LIST).substitutions()):
            for namespace in namespaces:
                obj["metadata"]["namespace"] = namespace
                assert kube.get(api, obj) is None, f"{obj['kind']} {namespace}/{obj['metadata']['name']} left"
    runstate.sweep_stale()
    assert traces.leftovers() == []
