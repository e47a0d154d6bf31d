"""What the kind provider journals before each change, and what `restore` then issues.

Docker and kind cannot run here: ``World`` answers the kind/docker/istioctl commands the
way those tools do (a cluster of that name exists or not, an image is in the local Docker
or "No such image"), on disk so that a forked, SIGKILLed run and the restore after it see
the same state. The kill is real: the forked child SIGKILLs itself right after a step, so
the journal is exactly what a killed run leaves. No Kubernetes API is involved: what is
pinned is which commands are issued when."""

import json
import os
import pathlib
import signal
import subprocess
import traceback

import pytest

from egress_conformance import cli, providers
from egress_conformance.changes import cleanup, journal
from egress_conformance.cluster import kube
from egress_conformance.hosts import targets
from egress_conformance.providers.existing import provider as existing
from egress_conformance.providers.kind import cluster, commands, runner
from egress_conformance.providers.kind import provider as kind

CLUSTER = "pytest-egress-conformance"
TARGETS = targets.Targets()

journal.register(kind.KindProvider.journal_entry_types())  # what restore and a run do first
DELETE_CLUSTER = commands.delete_cluster(CLUSTER)
LOCAL_IMAGES = [existing.DEFAULT_CLIENT_IMAGE]
"""What the World's Docker has: the client image (loaded into the node); not go-httpbin (pulled by it)."""


class World:
    """Kind clusters and the local Docker's images, kept in a file; ``run`` is the runner."""

    def __init__(self, path, clusters=(), die_after=None):
        self.path, self.die_after = path, die_after
        if not path.exists():
            self.save({"clusters": list(clusters), "images": LOCAL_IMAGES, "loaded": [], "issued": []})

    def load(self) -> dict:
        return json.loads(self.path.read_text())

    def save(self, state: dict) -> None:
        self.path.write_text(json.dumps(state))

    @property
    def issued(self) -> list[list[str]]:
        return self.load()["issued"]

    def run(self, argv, timeout):
        state = self.load()
        state["issued"].append(argv)
        stdout = self._answer(argv, state)
        self.save(state)
        self.after(" ".join(argv[:3]))
        return subprocess.CompletedProcess(argv, 0, stdout, "")

    def _answer(self, argv, state) -> str:
        def fail(stderr):
            self.save(state)
            raise subprocess.CalledProcessError(1, argv, "", stderr)

        if argv[:3] == ["kind", "get", "clusters"]:
            return "\n".join(state["clusters"])
        if argv[:3] == ["kind", "create", "cluster"]:
            state["clusters"].append(argv[argv.index("--name") + 1])
            pathlib.Path(argv[argv.index("--kubeconfig") + 1]).write_text("apiVersion: v1\nkind: Config\n")
        elif argv[:3] == ["kind", "delete", "cluster"]:
            state["clusters"] = [c for c in state["clusters"] if c != argv[argv.index("--name") + 1]]
        elif argv[:3] == ["kind", "get", "kubeconfig"]:
            return "apiVersion: v1\nkind: Config\n"
        elif argv[:3] == ["docker", "image", "inspect"]:
            if argv[-1] not in state["images"]:
                fail(f"Error response from daemon: No such image: {argv[-1]}")
            return "sha256:0123\n"
        elif argv[:3] == ["kind", "load", "docker-image"]:
            state["loaded"].append(argv[3])
        return ""

    def after(self, step: str) -> None:
        """Die here, as a SIGKILL would: no undo runs, nothing is settled."""
        if step == self.die_after:
            os.kill(os.getpid(), signal.SIGKILL)


@pytest.fixture
def world(tmp_path, monkeypatch):
    monkeypatch.setenv("EGRESS_CONFORMANCE_STATE", str(tmp_path / "state"))
    made = World(tmp_path / "world.json")
    # The manager's readiness probe runs kubectl: here a cluster is ready once kind has it.
    monkeypatch.setattr(cluster.KindCluster, "ready",
                        lambda self, timeout=20: self.cluster_name in made.load()["clusters"])
    monkeypatch.setattr(kind.shutil, "which", lambda tool: f"/usr/bin/{tool}")
    scratch = iter(range(100))
    monkeypatch.setattr(kind.tempfile, "mkdtemp", lambda suffix=None, prefix="tmp", dir=None: str(
        _mkdir(tmp_path / f"{prefix}{next(scratch)}")))
    return made


def _mkdir(path):
    path.mkdir()
    return path


def in_cluster_start(self, undo, journal_):
    """The existing provider's part, reduced to its journaling: bind, then journal its namespace."""
    self._context, self._server = "kind-" + CLUSTER, "https://127.0.0.1:40000"
    journal_.bind(self.cluster())
    journal_.object_creating({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "egress-conformance-1"}})
    self._world.after("namespace created")


def start(world, monkeypatch, inner=in_cluster_start, **options) -> tuple[cleanup.Stack, journal.Journal]:
    monkeypatch.setattr(kind._OnKind, "start", inner)
    monkeypatch.setattr(kind._OnKind, "_world", world, raising=False)
    provider = kind.KindProvider(kind.KindProvider.parse_options({"istio_version": "1.31", **options}), TARGETS,
                                 world.run)
    undo, run_journal = cleanup.Stack(), journal.Journal()
    provider.start(undo, run_journal)
    return undo, run_journal


def killed_run(world, monkeypatch, step, **options) -> list[dict]:
    """Start the kind provider in a child that SIGKILLs itself right after ``step``; the entries it left."""
    world.die_after = step
    child = os.fork()
    if child == 0:
        try:
            start(world, monkeypatch, **options)
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(0)  # only reached if the step never came
    world.die_after = None  # the restore after it lives on
    _, status = os.waitpid(child, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, f"the run did not die after {step}"
    return [entry for pending in journal.pending() for entry in pending.entries]


def no_api():
    raise AssertionError("restore reached the API of a cluster it is deleting")


STEPS = {  # step the run dies after -> (entry kinds left, commands restore issues)
    "kind get clusters": ([], []),
    "kind create cluster": (["kind-cluster"], [DELETE_CLUSTER]),
    "istioctl install --kubeconfig": (["kind-cluster"], [DELETE_CLUSTER]),
    "kind load docker-image": (["kind-cluster"], [DELETE_CLUSTER]),
    "namespace created": (["kind-cluster", "created"], [DELETE_CLUSTER]),
}


@pytest.mark.parametrize("step", STEPS)
def test_a_run_killed_after_any_step_is_undone_by_restore_with_exactly_the_right_commands(world, monkeypatch, step):
    kinds, undo_commands = STEPS[step]
    entries = killed_run(world, monkeypatch, step)
    assert [e["type"] for e in entries] == kinds
    assert bool(world.load()["clusters"]) == ("kind-cluster" in kinds)
    issued_by_run = len(world.issued)

    for pending in journal.pending():
        done, conflicts = journal.restore(pending, no_api, run=world.run)
        assert conflicts == []
    assert world.issued[issued_by_run:] == undo_commands
    assert journal.pending() == []
    assert world.load()["clusters"] == []


def test_the_journal_names_the_kind_cluster_and_an_in_cluster_entry_goes_with_it(world, monkeypatch):
    killed_run(world, monkeypatch, "namespace created")
    pending, = journal.pending()
    assert pending.data["cluster"] == {"provider": "kind", "kindCluster": CLUSTER, "context": "kind-" + CLUSTER,
                                       "server": "https://127.0.0.1:40000",
                                       "kubeconfig": pending.data["cluster"]["kubeconfig"]}
    assert "kind cluster pytest-egress-conformance created, Namespace egress-conformance-1 created" in \
        journal.describe(pending)


def test_images_in_the_local_docker_are_loaded_and_the_others_left_to_the_node(world, monkeypatch):
    captured = {}
    monkeypatch.setattr(kind._OnKind, "__init__", lambda self, name, options, run_targets: captured.update(vars(options)) or None)
    start(world, monkeypatch, inner=lambda self, undo, journal_: None)
    client, external = existing.DEFAULT_CLIENT_IMAGE, existing.DEFAULT_EXTERNAL_IMAGE
    assert world.issued[-4:] == [commands.istioctl_install("istioctl", captured["kubeconfig"]),
                                 commands.local_image(client), commands.load_image(client, CLUSTER),
                                 commands.local_image(external)]
    assert world.load()["loaded"] == [client]
    # the in-namespace simulated host, with mesh-wide changes allowed on the run's own cluster
    assert (captured["external"], captured["external_image"], captured["client_image"]) == (
        "simulated", external, client)
    assert captured["allow_mesh_wide_changes"] is True


def test_a_docker_that_cannot_say_whether_it_has_an_image_stops_the_run_in_one_line(world, monkeypatch):
    def broken_inspect(argv, timeout):
        if argv[:3] == ["docker", "image", "inspect"]:
            raise subprocess.CalledProcessError(1, argv, "", "permission denied while trying to connect")
        return world.run(argv, timeout)

    provider = kind.KindProvider(kind.KindProvider.parse_options({"istio_version": "1.31"}), TARGETS, broken_inspect)
    undo = cleanup.Stack()
    with pytest.raises(kind.ProviderError, match=f"docker image inspect {existing.DEFAULT_CLIENT_IMAGE} failed: "
                                                 "permission denied"):
        provider.start(undo, journal.Journal())
    undo.close()
    assert world.load()["clusters"] == [] and journal.pending() == []


def test_a_normal_run_deletes_its_cluster_and_settles_its_entry(world, monkeypatch):
    undo, run_journal = start(world, monkeypatch, inner=lambda self, undo, journal_: None)
    assert [e["type"] for e in run_journal.entries] == ["kind-cluster"]
    started = len(world.issued)
    undo.close()
    assert world.issued[started:] == [DELETE_CLUSTER]
    assert run_journal.entries == [] and not run_journal.path.exists()


def test_a_cluster_the_run_did_not_create_is_never_journaled_nor_deleted(world, monkeypatch):
    state = world.load()
    state["clusters"] = [CLUSTER]
    world.save(state)
    undo, run_journal = start(world, monkeypatch, inner=lambda self, undo, journal_: None)
    assert commands.create_cluster(CLUSTER, "kindest/node:v1.35.0", run_journal.data["cluster"]["kubeconfig"]) \
        not in world.issued
    assert run_journal.entries == []
    undo.close()
    assert DELETE_CLUSTER not in world.issued and world.load()["clusters"] == [CLUSTER]


def test_with_keep_cluster_a_cluster_the_run_creates_outlives_it(world, monkeypatch):
    entries = killed_run(world, monkeypatch, "namespace created", keep_cluster=True)
    assert [e["type"] for e in entries] == ["created"]
    assert world.load()["clusters"] == [CLUSTER]


def test_restore_from_the_command_line_issues_the_same_commands(world, monkeypatch, capsys):
    killed_run(world, monkeypatch, "namespace created")
    issued_by_run = len(world.issued)
    monkeypatch.setattr(runner, "run", world.run)
    monkeypatch.setattr(kube, "connect", lambda *args: no_api())
    monkeypatch.setattr(providers, "PROVIDERS", {"kind": providers.PROVIDERS["kind"]})  # no local-mesh sweep here
    assert cli.main(["restore"]) == 0
    assert world.issued[issued_by_run:] == [DELETE_CLUSTER]
    out = capsys.readouterr().out
    assert "Namespace egress-conformance-1 created: goes with kind cluster pytest-egress-conformance" in out
    assert f"deleted kind cluster {CLUSTER}" in out


def test_a_failing_kind_delete_is_one_line_and_the_entry_stays(world, monkeypatch, capsys):
    killed_run(world, monkeypatch, "istioctl install --kubeconfig")

    def docker_down(argv, timeout):
        raise subprocess.CalledProcessError(1, argv, "", "ERROR: failed to delete cluster: Cannot connect to the "
                                            "Docker daemon at unix:///var/run/docker.sock")

    monkeypatch.setattr(runner, "run", docker_down)
    assert cli.main(["restore", "--no-sweep"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("egress-conformance: cannot restore ") and err.count("\n") == 1
    assert f"`kind delete cluster --name {CLUSTER}` failed: ERROR: failed to delete cluster" in err
    assert [e["type"] for e in journal.pending()[0].entries] == ["kind-cluster"]


def test_a_failed_cluster_create_is_deleted_at_once_and_settled(world, monkeypatch):
    def create_fails(argv, timeout):
        if argv[:3] == ["kind", "create", "cluster"]:
            world.run(argv, timeout)  # half made: kind's nodes exist
            raise subprocess.CalledProcessError(1, argv, "", "ERROR: failed to create cluster: timed out")
        return world.run(argv, timeout)

    provider = kind.KindProvider(kind.KindProvider.parse_options({"istio_version": "1.31"}), TARGETS, create_fails)
    undo = cleanup.Stack()
    with pytest.raises(kind.ProviderError, match="kind cluster pytest-egress-conformance not created: ERROR: failed"):
        provider.start(undo, journal.Journal())
    assert world.issued[-1] == DELETE_CLUSTER and world.load()["clusters"] == []
    assert journal.pending() == []
    undo.close()


def test_old_journals_still_load_and_unknown_entry_types_are_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("EGRESS_CONFORMANCE_STATE", str(tmp_path))
    directory = journal.directory()
    directory.mkdir(parents=True)
    (directory / "a.json").write_text(json.dumps({"cluster": {"provider": "existing"}, "entries": [
        {"kind": "mesh-config", "namespace": "istio-system", "name": "istio", "original": "x", "id": "1"}]}))
    assert journal.pending()[0].entries[0]["type"] == "mesh-config"
    (directory / "b.json").write_text(json.dumps({"cluster": {}, "entries": [{"kind": "corefile", "id": "2"}]}))
    with pytest.raises(journal.JournalError, match=r"b.json holds changes of a type this version of the suite does "
                                                   r"not know \(corefile\): restore it with the version that wrote it"):
        journal.pending()
    (directory / "b.json").write_text(json.dumps({"cluster": {}, "entries": [{"kind": "created"}]}))
    with pytest.raises(journal.JournalError, match="b.json is corrupt or truncated"):
        journal.pending()
    with pytest.raises(ValueError, match="journal entry created needs object"):
        journal.Journal({"provider": "kind"}).changing("created")


def test_restore_asks_kind_for_the_kubeconfig_when_the_runs_copy_is_gone(world, monkeypatch, capsys):
    state = world.load()
    state["clusters"] = [CLUSTER]
    world.save(state)
    killed_run(world, monkeypatch, "namespace created")
    pending, = journal.pending()
    assert [e["type"] for e in pending.entries] == ["created"]  # the cluster was there: not the run's
    pathlib.Path(pending.data["cluster"]["kubeconfig"]).unlink()  # /tmp cleaned by a reboot
    issued_by_run = len(world.issued)
    monkeypatch.setattr(runner, "run", world.run)
    connected, deleted = [], []
    monkeypatch.setattr(kube, "connect", lambda path, context=None: connected.append(path.read_text()) or "api")
    monkeypatch.setattr(journal.undoing, "delete_created", lambda api, obj, spec, uid=None, force=False: deleted.append(
        (api, obj["kind"], obj["metadata"]["name"])) or f"deleted {obj['kind']} {obj['metadata']['name']}")
    assert cli.main(["restore", "--no-sweep"]) == 0, capsys.readouterr().err
    assert world.issued[issued_by_run:] == [commands.get_kubeconfig(CLUSTER)]
    assert connected == ["apiVersion: v1\nkind: Config\n"]
    assert deleted == [("api", "Namespace", "egress-conformance-1")] and world.load()["clusters"] == [CLUSTER]
