"""The journal and the run lock live in the cluster: a run SIGKILLed on one machine, whose
disk is then gone, is restored from another; a second run from another machine is refused
while the first holds the Lease; a Lease whose holder died with nothing left to restore is
taken over."""

import datetime
import fcntl
import os
import subprocess
import sys

from kubernetes import client

from egress_conformance.changes import lease
from egress_conformance.cluster import meshconfig
from tests import killing
from tests.cluster import snapshot
from tests.cluster.conftest import ROOT, cli
from tests.cluster.test_existing_provider import run_args
from tests.cluster.test_test_namespace import given_namespace  # noqa: F401 -- a fixture

MESH_CONFIG = ("istio-system", "istio")
MESH_LEASE = ("istio-system", "egress-conformance-istio")


def state(tmp_path, machine: str) -> dict:
    """The environment of a run on ``machine``: a state folder (journals) of its own."""
    return {**os.environ, "EGRESS_CONFORMANCE_STATE": str(tmp_path / machine)}


def test_a_run_killed_on_one_machine_is_restored_from_another(kubeconfig, api, images, tmp_path):
    before, original = snapshot.take(api), meshconfig.read(api, MESH_CONFIG)
    killing.kill_at(run_args(kubeconfig, images, tmp_path / "report", "--allow-mesh-wide-changes",
                             "--run-test", "core-egress"), "applied ServiceEntry", cwd=ROOT,
                    env=state(tmp_path, "runner-a"))
    changed = client.CoreV1Api(api).read_namespaced_config_map(MESH_CONFIG[1], MESH_CONFIG[0])
    assert meshconfig.policy_of(changed.data["mesh"]) == meshconfig.REGISTRY_ONLY  # the kill left it changed
    holder = changed.metadata.annotations[meshconfig.CHANGED_BY]  # who changed it, for a person looking
    assert lease.read(api, *MESH_LEASE).identity == holder

    # No waiting on the killed run's clock: restore watches its Leases for their duration, sees
    # no renewal, and only then takes the journal (a live run's it would refuse, naming it).
    restored = cli("restore", "--kubeconfig", str(kubeconfig), env=state(tmp_path, "runner-b"))
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert f"freed Lease {MESH_LEASE[0]}/{MESH_LEASE[1]} of run {holder}" in restored.stdout
    assert meshconfig.read(api, MESH_CONFIG) == original
    assert meshconfig.CHANGED_BY not in (client.CoreV1Api(api).read_namespaced_config_map(
        MESH_CONFIG[1], MESH_CONFIG[0]).metadata.annotations or {})
    assert lease.read(api, *MESH_LEASE) is None
    assert snapshot.differences(before, snapshot.take(api)) == []


def test_a_second_run_from_another_machine_is_refused_while_the_first_holds_the_lease(
        kubeconfig, api, images, tmp_path, given_namespace):  # noqa: F811
    first = subprocess.Popen(
        [sys.executable, "-m", "egress_conformance.cli",
         # Every namespace-scoped test of core and extended: still going after the second run has
         # watched its journal's and its namespace's Leases renewed (up to 5 s each).
         *run_args(kubeconfig, images, tmp_path / "first", "--test-namespace", given_namespace)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**state(tmp_path, "runner-a"), "PYTHONUNBUFFERED": "1"})
    # The first run must still hold its Lease when the second asks: left to itself it can finish its
    # scenarios before the second has started (seen in CI). With the pipe at its smallest and unread,
    # its next lines block it mid-run, while its renewing thread (which logs nothing) keeps the Lease live.
    fcntl.fcntl(first.stdout.fileno(), fcntl.F_SETPIPE_SZ, 4096)
    seen = []
    for line in first.stdout:
        seen.append(line)
        if "client pod" in line and "injected" in line:
            break
    else:
        raise AssertionError("the first run never got its client pod:\n" + "".join(seen[-40:]))
    second = cli(*run_args(kubeconfig, images, tmp_path / "second", "--test-namespace", given_namespace,
                           "--run-test", "core-egress-in-namespace"), env=state(tmp_path, "runner-b"))
    assert first.poll() is None, ("the first run ended before the second was judged: nothing was proven\n"
                                  + "".join(seen[-20:]) + first.stdout.read()[-3000:])
    rest, _ = first.communicate(timeout=600)
    assert second.returncode == 4, second.stdout[-3000:] + second.stderr[-2000:]
    assert f"another run holds Lease {given_namespace}/egress-conformance (run " in second.stdout
    assert first.returncode == 0, "".join(seen) + rest


def test_a_lease_whose_holder_died_with_nothing_to_restore_is_taken_over(
        kubeconfig, api, images, tmp_path, given_namespace):  # noqa: F811
    long_ago = datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=1)
    client.CoordinationV1Api(api).create_namespaced_lease(given_namespace, client.V1Lease(
        metadata=client.V1ObjectMeta(name="egress-conformance", annotations={
            lease.JOURNAL_ANNOTATION: f"{given_namespace}/egress-conformance-journal-dead-run"}),
        spec=client.V1LeaseSpec(holder_identity="dead-run", lease_duration_seconds=lease.DURATION_SECONDS,
                                acquire_time=long_ago, renew_time=long_ago)))
    result = cli(*run_args(kubeconfig, images, tmp_path / "report", "--test-namespace", given_namespace,
                           "--run-test", "core-egress-in-namespace"), env=state(tmp_path, "runner-a"))
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert f"taking over Lease {given_namespace}/egress-conformance from run dead-run" in result.stdout
    assert lease.read(api, given_namespace, "egress-conformance") is None  # released at the end
