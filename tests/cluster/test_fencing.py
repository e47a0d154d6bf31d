"""Consent and fencing on a shared cluster (issue 26): the matrix's mesh-wide shapes need
consent and run under the mesh Lease; two runs from two machines (separate state folders)
never both hold the mesh; a run whose Lease is stolen stops and says so; a colleague's edit
of the mesh ConfigMap landing between the run's read and its write is never overwritten.

Other runs share the node: a test that needs the mesh Lease first waits until nobody holds it."""

import os
import secrets
import subprocess
import sys
import threading

import pytest
import yaml
from kubernetes import client

from egress_conformance.changes import cleanup, lease
from egress_conformance.changes.journal import Journal
from egress_conformance.cluster import kube, meshconfig
from egress_conformance.framework import scope
from tests.cluster.conftest import ROOT, cli
from tests.cluster.test_test_namespace import contents, given_namespace  # noqa: F401 -- a fixture

MESH_CONFIG = ("istio-system", "istio")
MESH_LEASE = ("istio-system", "egress-conformance-istio")
BUSY = f"another run holds Lease {MESH_LEASE[0]}/{MESH_LEASE[1]}"


def state(tmp_path, machine: str) -> dict:
    """The environment of a run on ``machine``: a state folder (journals) of its own."""
    return {**os.environ, "EGRESS_CONFORMANCE_STATE": str(tmp_path / machine), "PYTHONUNBUFFERED": "1"}


def args(command: str, kubeconfig, images, report_dir, *extra: str) -> list[str]:
    return [command, "--provider", "existing", "--kubeconfig", str(kubeconfig), "--external", "simulated",
            "--client-image", images["client"], "--external-image", images["external"], "--report-dir",
            str(report_dir), *extra]


def until_mesh_free(api) -> None:
    """Wait until no run renews the mesh Lease (another helper's mesh-wide run may hold it)."""
    for _ in range(60):  # each look watches the Lease for up to its duration: at most 15 min in all
        if lease.renewed(api, *MESH_LEASE) is None:
            return
    raise AssertionError(f"Lease {MESH_LEASE[0]}/{MESH_LEASE[1]} renewed by other runs for 15 minutes")


def results(report_dir) -> dict[str, tuple[str, str]]:
    document = yaml.safe_load((report_dir / "report.yaml").read_text())
    return {t["name"]: (t["result"], t["reason"]) for p in document["profiles"] for t in p["tests"]}


class Watching:
    """What ``look()`` answers, read again and again while runs go; each change of answer kept."""

    def __init__(self, look):
        self.look, self.seen, self._stop = look, [], threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.wait(0.2):
            answer = self.look()
            if not self.seen or self.seen[-1] != answer:
                self.seen.append(answer)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def mesh_holders(api) -> Watching:
    """The mesh Lease's holders over time (None while nobody holds it)."""
    return Watching(lambda: getattr(lease.read(api, *MESH_LEASE), "identity", None))


def root_sidecar(api) -> Watching:
    """Whether Sidecar istio-system/default exists, over time."""
    sidecar = {"apiVersion": "networking.istio.io/v1", "kind": "Sidecar",
               "metadata": {"name": "default", "namespace": "istio-system"}}
    return Watching(lambda: kube.get(api, sidecar) is not None)


def test_matrix_refuses_its_mesh_wide_shapes_without_consent_and_takes_the_mesh_lease_with_it(
        kubeconfig, api, images, tmp_path):
    shapes = ["--run-test", "matrix-clean-before", "--run-test", "matrix-root-sidecar-allow-any"]
    original = meshconfig.read(api, MESH_CONFIG)
    with root_sidecar(api) as sidecar:
        refused = cli(*args("matrix", kubeconfig, images, tmp_path / "without", *shapes),
                      env=state(tmp_path, "a"))
    found = results(tmp_path / "without")
    assert found["matrix-root-sidecar-allow-any"][0] == "skipped", refused.stdout[-3000:]
    assert "--allow-mesh-wide-changes" in found["matrix-root-sidecar-allow-any"][1]
    assert found["matrix-clean-before"][0] == "passed", refused.stdout[-3000:]
    assert refused.returncode == 0  # the run claims the namespace scope only: the shape is outside its claim
    assert sidecar.seen == [False]  # never created, not even for a moment

    until_mesh_free(api)
    with mesh_holders(api) as holders, root_sidecar(api) as sidecar:
        consented = cli(*args("matrix", kubeconfig, images, tmp_path / "with", "--allow-mesh-wide-changes",
                              "--run-test", "matrix-root-sidecar-allow-any"), env=state(tmp_path, "b"))
    assert consented.returncode == 0, consented.stdout[-4000:] + consented.stderr[-2000:]
    assert results(tmp_path / "with")["matrix-root-sidecar-allow-any"][0] == "passed"
    held = [h for h in holders.seen if h]
    assert len(held) == 1 and held[0][:1].isdigit(), holders.seen  # the run's id, for the whole run
    assert sidecar.seen == [False, True, False]  # made under the Lease, removed at the shape's end
    assert lease.read(api, *MESH_LEASE) is None  # released at the run's end
    assert meshconfig.read(api, MESH_CONFIG) == original


def test_two_runs_from_two_machines_never_both_hold_the_mesh(kubeconfig, api, images, tmp_path):
    until_mesh_free(api)
    original = meshconfig.read(api, MESH_CONFIG)
    runs = []
    with mesh_holders(api) as holders:
        for machine in ("a", "b"):
            runs.append(subprocess.Popen(
                [sys.executable, "-m", "egress_conformance.cli",
                 *args("run", kubeconfig, images, tmp_path / machine, "--allow-mesh-wide-changes",
                       "--run-test", "core-egress")],
                cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                env=state(tmp_path, machine)))
        outputs = [run.communicate(timeout=900)[0] for run in runs]
    codes = sorted(run.returncode for run in runs)
    said = "\n".join(o[-2500:] for o in outputs)
    # Started together: one changes the mesh; the other is refused at start, the holder named.
    assert codes == [0, 4], said
    refused = outputs[[run.returncode for run in runs].index(4)]
    assert BUSY in refused and "renewed while watched" in refused, said
    held = [h for h in holders.seen if h]
    # One holder at a time, each for its whole run: never handed back and forth.
    assert len(held) == len(set(held)) == codes.count(0), holders.seen
    assert meshconfig.read(api, MESH_CONFIG) == original


def test_a_run_whose_lease_is_stolen_stops_and_says_so(kubeconfig, api, images, tmp_path,
                                                       given_namespace):  # noqa: F811
    before = contents(api, given_namespace)
    run = subprocess.Popen(
        [sys.executable, "-m", "egress_conformance.cli",
         *args("run", kubeconfig, images, tmp_path / "report", "--test-namespace", given_namespace,
               "--profile", "core", "--run-test", "core-egress-in-namespace")],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=state(tmp_path, "a"))
    seen = []
    for line in run.stdout:
        seen.append(line)
        if "applied ServiceEntry" in line:
            break
    else:
        raise AssertionError("the run never applied its ServiceEntry:\n" + "".join(seen[-40:]))
    coordination = client.CoordinationV1Api(api)
    for _ in range(5):  # conditional, as a run taking it over writes it: a renewal in between is a 409
        held = coordination.read_namespaced_lease("egress-conformance", given_namespace)
        held.spec.holder_identity = f"thief-{secrets.token_hex(3)}"  # another run took it over
        try:
            coordination.replace_namespaced_lease("egress-conformance", given_namespace, held)
            break
        except client.ApiException as err:
            if err.status != 409:
                raise
    rest, _ = run.communicate(timeout=300)
    output = "".join(seen) + rest
    assert run.returncode == 4, output[-4000:]
    why = f"interrupted: lost the lease (Lease {given_namespace}/egress-conformance is held by run thief-"
    assert why in output
    assert "the run's changes were undone" in output, output[-3000:]
    result, reason = results(tmp_path / "report")["core-egress-in-namespace"]
    assert result == "not-run" and reason.startswith(why)
    # Undone, each change only while still the run's own; the thief's Lease is not the run's to delete.
    assert lease.read(api, given_namespace, "egress-conformance").identity.startswith("thief-")
    coordination.delete_namespaced_lease("egress-conformance", given_namespace)
    assert contents(api, given_namespace) == before


@pytest.fixture
def mesh_lease(api):
    """The mesh Lease, held by this test (as a mesh-wide run holds it) while it writes the mesh config."""
    until_mesh_free(api)
    held = lease.RunLease(api, *MESH_LEASE, f"test-{secrets.token_hex(3)}", "")
    held.acquire(lambda holder: None, renew=False)
    yield held
    held.release()


def test_a_colleagues_edit_during_the_forward_write_is_never_lost(api, mesh_lease, tmp_path, monkeypatch):
    monkeypatch.setenv("EGRESS_CONFORMANCE_STATE", str(tmp_path))
    core = client.CoreV1Api(api)
    original = meshconfig.read(api, MESH_CONFIG)
    note = f"colleague-{secrets.token_hex(3)}"
    computed = meshconfig.with_policy

    def edited_meanwhile(text, policy):
        # A colleague's edit of the same ConfigMap lands after the run's read, before its write (a
        # key of its own, so that nobody else's run on the node sees its mesh text change).
        core.patch_namespaced_config_map(MESH_CONFIG[1], MESH_CONFIG[0], {"data": {note: "kept"}})
        return computed(text, policy)

    monkeypatch.setattr(meshconfig, "with_policy", edited_meanwhile)
    run_journal = Journal({"provider": "existing", "server": api.configuration.host}, tmp_path / "journal.json")
    undo = cleanup.Stack()
    try:
        with pytest.raises(meshconfig.Changed, match="changed between the run's read and its write"):
            scope.MeshWide(api, MESH_CONFIG, run_journal, undo).set_policy(meshconfig.REGISTRY_ONLY)
        live = core.read_namespaced_config_map(MESH_CONFIG[1], MESH_CONFIG[0])
        assert live.data[note] == "kept" and live.data["mesh"] == original  # the run wrote nothing over it
        assert meshconfig.CHANGED_BY not in (live.metadata.annotations or {})
        assert run_journal.entries == [] and undo.pending() == []  # nothing a restore would write back
    finally:
        core.patch_namespaced_config_map(MESH_CONFIG[1], MESH_CONFIG[0], {"data": {note: None}})


def test_policy_is_refused_and_changes_nothing_while_a_run_holds_the_mesh(kubeconfig, api, tmp_path):
    until_mesh_free(api)
    original = meshconfig.read(api, MESH_CONFIG)
    held = lease.RunLease(api, *MESH_LEASE, f"test-{secrets.token_hex(3)}", "", on_lost=lambda why: None)
    held.acquire(lambda holder: None)  # renewed, as a live run's is
    try:
        refused = cli("policy", "restricted", "--kubeconfig", str(kubeconfig), env=state(tmp_path, "a"))
    finally:
        held.release()
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert f"{BUSY} (run {held.identity}" in refused.stderr and refused.stderr.count("\n") == 1
    assert meshconfig.read(api, MESH_CONFIG) == original
    assert list((tmp_path / "a").glob("journals/*.json")) == []  # nothing journaled: nothing was changed
