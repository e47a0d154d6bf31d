"""The kind provider end to end: a kind cluster, Istio, the simulated httpbin.org (the
public go-httpbin image in a pod with no Service), the core profile, and a run SIGKILLed mid-scenario undone by `restore`. Needs Docker, kind and
istioctl with images they can pull: skipped with the missing piece named otherwise (never
counted as passed)."""

import shutil
import subprocess
import sys

import pytest
import yaml

from egress_conformance.changes import journal
from egress_conformance.providers.kind import commands
from tests import killing


def _missing() -> str | None:
    for tool in ("docker", "kind", "istioctl"):
        if shutil.which(tool) is None:
            return f"{tool} is not on PATH"
    try:
        subprocess.run(commands.docker_available(), capture_output=True, check=True, timeout=30)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
        return "the Docker daemon is not running"
    return None


@pytest.mark.skipif(_missing() is not None, reason=f"kind provider needs Docker: {_missing()}")
def test_the_core_profile_passes_on_a_fresh_kind_cluster_and_leaves_no_cluster(tmp_path):
    run = subprocess.run([sys.executable, "-m", "egress_conformance.cli", "run", "--provider", "kind",
                          "--report-dir", str(tmp_path)], capture_output=True, text=True, timeout=3600)
    document = yaml.safe_load((tmp_path / "report.yaml").read_text())
    assert document["mesh"]["provider"] == "kind" and document["result"] == "success", run.stdout[-3000:]
    clusters = subprocess.run(["kind", "get", "clusters"], capture_output=True, text=True, check=True).stdout
    assert f"{commands.CLUSTER_PREFIX}egress-conformance" not in clusters.split()


@pytest.mark.skipif(_missing() is not None, reason=f"kind provider needs Docker: {_missing()}")
def test_a_killed_kind_run_is_undone_by_restore(tmp_path, monkeypatch):
    monkeypatch.setenv("EGRESS_CONFORMANCE_STATE", str(tmp_path / "state"))
    killing.kill_at(["run", "--provider", "kind", "--run-test", "core-egress", "--report-dir",
                     str(tmp_path / "report")], "applied ServiceEntry")
    assert journal.pending(), "the killed run left no journal"

    restored = subprocess.run([sys.executable, "-m", "egress_conformance.cli", "restore"], capture_output=True,
                              text=True, timeout=600)
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert journal.pending() == []
    clusters = subprocess.run(commands.list_clusters(), capture_output=True, text=True, check=True).stdout
    assert f"{commands.CLUSTER_PREFIX}egress-conformance" not in clusters.split()
