"""Ctrl-C at several points of a run on a real cluster it did not create: each is an
interrupted run ("not run: interrupted", exit 130) once everything it changed is undone,
the cluster as it was, its journal, its copy in the cluster and its Leases gone."""

import os
import signal
import subprocess
import sys

import pytest
import yaml

from egress_conformance.changes import journal
from tests.cluster import snapshot
from tests.cluster.conftest import ROOT
from tests.cluster.test_existing_provider import run_args

POINTS = {
    "bring-up": "client pod",  # the namespace, its journal and Lease exist; no test has started
    "mid-test": "applied ServiceEntry",  # the mesh config restricted, a ServiceEntry created
    "teardown": "tearing down the existing mesh",
}


@pytest.mark.parametrize("point", POINTS)
def test_ctrl_c_at_any_point_is_an_interrupted_run_that_leaves_the_cluster_as_it_was(
        kubeconfig, api, images, tmp_path, own_journals, point):
    before = snapshot.take(api)
    process = subprocess.Popen(
        [sys.executable, "-m", "egress_conformance.cli",
         *run_args(kubeconfig, images, tmp_path / "report", "--allow-mesh-wide-changes", "--run-test", "core-egress")],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        # A background job inherits SIGINT ignored: give the run a terminal's disposition.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    seen = []
    for line in process.stdout:
        seen.append(line)
        if POINTS[point] in line:
            process.send_signal(signal.SIGINT)
            break
    rest, _ = process.communicate(timeout=600)
    output = "".join(seen) + rest
    assert process.returncode == 130, output[-4000:]
    document = yaml.safe_load((tmp_path / "report" / "report.yaml").read_text())
    tests = [t for p in document["profiles"] for t in p["tests"] if t["name"] == "core-egress"]
    if point != "teardown":  # at teardown the test itself had passed already
        assert document["result"] == "not run" and [(t["result"], t["reason"]) for t in tests] == \
            [("not-run", "interrupted")], document
    assert snapshot.differences(before, snapshot.take(api)) == []
    assert journal.pending() == []
