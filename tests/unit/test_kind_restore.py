"""What the kind provider journals before each change, and what `restore` then issues.

Docker and kind cannot run here: ``World`` answers the kind/docker/istioctl commands the
way those tools do (a cluster or container of that name exists or not, "No such
container", "already in use"), on disk so that a forked, SIGKILLed run and the restore
after it see the same state. The kill is real: the forked child SIGKILLs itself right
after a step, so the journal is exactly what a killed run leaves. The one Kubernetes
object involved, CoreDNS's ConfigMap, is a dict (FakeConfigMaps): what is pinned is which
text is put back when, not the API."""

import json
import os
import pathlib
import signal
import subprocess
import traceback
import types

import pytest
from kubernetes import client

from egress_conformance import cleanup, cli, journal, providers, targets
from egress_conformance.kindcluster import cluster, commands, leftovers, runner
from egress_conformance.providers import kind

CLUSTER = "pytest-egress-conformance"
CONTAINER = kind.EXTERNAL_CONTAINER
ORIGINAL = ".:53 {\n    forward . /etc/resolv.conf\n}\n"
EDITED = commands.corefile_with_hosts(ORIGINAL, "172.18.0.9", targets.from_options({}).names())
DELETE_CLUSTER = commands.delete_cluster(CLUSTER)
REMOVE_CONTAINER = commands.remove_container(CONTAINER)


class World:
    """Kind clusters, containers and CoreDNS's Corefile, kept in a file; ``run`` is the runner."""

    def __init__(self, path, clusters=(), die_after=None):
        self.path, self.die_after = path, die_after
        if not path.exists():
            self.save({"clusters": list(clusters), "containers": {}, "corefile": ORIGINAL, "issued": []})

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
        elif argv[:2] == ["docker", "run"]:
            name = argv[argv.index("--name") + 1]
            if name in state["containers"]:
                fail(f'docker: Error response from daemon: Conflict. The container name "/{name}" is already in use')
            labels = dict(argv[i + 1].split("=", 1) for i, a in enumerate(argv) if a == "--label")
            state["containers"][name] = labels
        elif argv[:2] == ["docker", "inspect"]:
            return "172.18.0.9\n"
        elif argv[:2] == ["docker", "rm"]:
            if argv[-1] not in state["containers"]:
                fail(f"Error response from daemon: No such container: {argv[-1]}")
            del state["containers"][argv[-1]]
        elif argv[:2] == ["docker", "ps"]:
            return "".join(f"{name}\t{labels.get(commands.RUN_LABEL, '')}\t{labels.get(commands.HOST_LABEL, '')}\n"
                           for name, labels in state["containers"].items())
        return ""

    def after(self, step: str) -> None:
        """Die here, as a SIGKILL would: no undo runs, nothing is settled."""
        if step == self.die_after:
            os.kill(os.getpid(), signal.SIGKILL)


class FakeConfigMaps:
    """CoreV1Api's ConfigMap calls on the World's Corefile (the one ConfigMap the kind provider edits)."""

    def __init__(self, world: World):
        self.world = world

    def __call__(self, api=None):
        return self

    def read_namespaced_config_map(self, name, namespace):
        assert (namespace, name) == kind.COREDNS
        state = self.world.load()
        return types.SimpleNamespace(data={"Corefile": state["corefile"]},
                                     metadata=types.SimpleNamespace(resource_version=str(len(state["issued"]))))

    def patch_namespaced_config_map(self, name, namespace, body):
        state = self.world.load()
        state["corefile"] = body["data"]["Corefile"]
        self.world.save(state)
        self.world.after("patch Corefile")


@pytest.fixture
def world(tmp_path, monkeypatch):
    monkeypatch.setenv("EGRESS_CONFORMANCE_STATE", str(tmp_path / "state"))
    made = World(tmp_path / "world.json")
    monkeypatch.setattr(client, "CoreV1Api", FakeConfigMaps(made))
    monkeypatch.setattr(kind.kube, "connect", lambda *args, **kwargs: "the kind cluster's API")
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
    provider = kind.KindProvider(kind.KindProvider.parse_options({"istio_version": "1.31", **options}), world.run)
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
    "docker run --detach": (["kind-cluster", "docker-container"], [REMOVE_CONTAINER, DELETE_CLUSTER]),
    "docker inspect --format": (["kind-cluster", "docker-container"], [REMOVE_CONTAINER, DELETE_CLUSTER]),
    "patch Corefile": (["kind-cluster", "docker-container", "corefile"], [REMOVE_CONTAINER, DELETE_CLUSTER]),
    "namespace created": (["kind-cluster", "docker-container", "corefile", "created"],
                          [REMOVE_CONTAINER, DELETE_CLUSTER]),
}


@pytest.mark.parametrize("step", STEPS)
def test_a_run_killed_after_any_step_is_undone_by_restore_with_exactly_the_right_commands(world, monkeypatch, step):
    kinds, undo_commands = STEPS[step]
    entries = killed_run(world, monkeypatch, step)
    assert [e["kind"] for e in entries] == kinds
    killed_state = world.load()
    assert bool(killed_state["clusters"]) == ("kind-cluster" in kinds)
    assert (CONTAINER in killed_state["containers"]) == ("docker-container" in kinds)
    issued_by_run = len(world.issued)

    for pending in journal.pending():
        done, conflicts = journal.restore(pending, no_api, run=world.run)
        assert conflicts == []
    assert world.issued[issued_by_run:] == undo_commands
    assert journal.pending() == []
    assert world.load()["clusters"] == [] and world.load()["containers"] == {}


def test_the_journal_names_the_kind_cluster_and_marks_the_container_with_the_run(world, monkeypatch):
    killed_run(world, monkeypatch, "docker run --detach")
    pending, = journal.pending()
    assert pending.data["cluster"]["provider"] == "kind" and pending.data["cluster"]["kindCluster"] == CLUSTER
    labels = world.load()["containers"][CONTAINER]
    assert labels[commands.RUN_LABEL] == str(pending.path)
    assert "kind cluster pytest-egress-conformance created, Docker container" in journal.describe(pending)


def test_the_corefile_entry_records_both_texts_and_an_in_cluster_entry_is_bound_to_the_kind_cluster(world, monkeypatch):
    entries = killed_run(world, monkeypatch, "namespace created")
    corefile = next(e for e in entries if e["kind"] == "corefile")
    assert (corefile["original"], corefile["written"]) == (ORIGINAL, EDITED)
    pending, = journal.pending()
    assert pending.data["cluster"] == {"provider": "kind", "kindCluster": CLUSTER, "context": "kind-" + CLUSTER,
                                       "server": "https://127.0.0.1:40000",
                                       "kubeconfig": pending.data["cluster"]["kubeconfig"]}


def test_a_normal_run_undoes_everything_newest_first_and_settles_each_entry(world, monkeypatch):
    undo, run_journal = start(world, monkeypatch, inner=lambda self, undo, journal_: None)
    assert [e["kind"] for e in run_journal.entries] == ["kind-cluster", "docker-container", "corefile"]
    assert world.load()["corefile"] == EDITED
    started = len(world.issued)
    undo.close()
    assert world.issued[started:] == [REMOVE_CONTAINER, DELETE_CLUSTER]
    assert world.load()["corefile"] == ORIGINAL
    assert run_journal.entries == [] and not run_journal.path.exists()


def test_a_cluster_the_run_did_not_create_is_never_journaled_nor_deleted(world, monkeypatch):
    state = world.load()
    state["clusters"] = [CLUSTER]
    world.save(state)
    entries = killed_run(world, monkeypatch, "patch Corefile")
    assert [e["kind"] for e in entries] == ["docker-container", "corefile"]
    issued_by_run = len(world.issued)
    pending, = journal.pending()
    done, conflicts = journal.restore(pending, lambda: "the kind cluster's API", run=world.run)
    assert conflicts == [] and world.issued[issued_by_run:] == [REMOVE_CONTAINER]
    assert done == ["restored CoreDNS Corefile kube-system/coredns to its original text",
                    f"removed container {CONTAINER}"]
    assert world.load()["clusters"] == [CLUSTER] and world.load()["corefile"] == ORIGINAL


def test_with_keep_cluster_a_cluster_the_run_creates_outlives_it(world, monkeypatch):
    entries = killed_run(world, monkeypatch, "docker inspect --format", keep_cluster=True)
    assert [e["kind"] for e in entries] == ["docker-container"]
    assert world.load()["clusters"] == [CLUSTER]


def test_a_corefile_someone_edited_since_is_a_conflict_unless_forced(world, monkeypatch):
    state = world.load()
    state["clusters"] = [CLUSTER]
    world.save(state)
    killed_run(world, monkeypatch, "patch Corefile")
    state = world.load()
    state["corefile"] = theirs = EDITED + "example.org {\n}\n"
    world.save(state)
    pending, = journal.pending()
    done, conflicts = journal.restore(pending, lambda: "api", run=world.run)
    assert done == [f"removed container {CONTAINER}"]
    assert len(conflicts) == 1 and conflicts[0].startswith(
        "CoreDNS Corefile kube-system/coredns was changed by someone else since the run wrote it")
    assert world.load()["corefile"] == theirs and [e["kind"] for e in journal.pending()[0].entries] == ["corefile"]
    done, conflicts = journal.restore(journal.pending()[0], lambda: "api", force=True, run=world.run)
    assert conflicts == [] and world.load()["corefile"] == ORIGINAL and journal.pending() == []


def test_restore_from_the_command_line_issues_the_same_commands(world, monkeypatch, capsys):
    killed_run(world, monkeypatch, "patch Corefile")
    issued_by_run = len(world.issued)
    monkeypatch.setattr(runner, "run", world.run)
    monkeypatch.setattr(cli.kube, "connect", lambda *args: no_api())
    monkeypatch.setattr(providers, "PROVIDERS", {"kind": providers.PROVIDERS["kind"]})  # no local-mesh sweep here
    assert cli.main(["restore"]) == 0
    # then the sweep lists marked containers: none left
    assert world.issued[issued_by_run:] == [REMOVE_CONTAINER, DELETE_CLUSTER, commands.docker_available(),
                                            commands.list_marked_containers()]
    out = capsys.readouterr().out
    assert "CoreDNS Corefile kube-system/coredns changed: goes with kind cluster pytest-egress-conformance" in out
    assert f"deleted kind cluster {CLUSTER}" in out


def test_a_failing_docker_rm_is_one_line_and_the_entry_stays(world, monkeypatch, capsys):
    killed_run(world, monkeypatch, "docker run --detach")

    def docker_down(argv, timeout):
        raise subprocess.CalledProcessError(1, argv, "", "Cannot connect to the Docker daemon at "
                                            "unix:///var/run/docker.sock")

    monkeypatch.setattr(runner, "run", docker_down)
    assert cli.main(["restore", "--no-sweep"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("egress-conformance: cannot restore ") and err.count("\n") == 1
    assert "`docker rm --force egress-conformance-httpbin` failed: Cannot connect to the Docker daemon" in err
    assert [e["kind"] for e in journal.pending()[0].entries] == ["kind-cluster", "docker-container"]


def test_the_sweep_removes_only_this_hosts_marked_containers_whose_journal_is_gone(world, tmp_path):
    alive = tmp_path / "state" / "journals" / "alive.json"
    alive.parent.mkdir(parents=True)
    alive.write_text("{}")
    here = kind.socket.gethostname()
    state = world.load()
    state["containers"] = {
        "c-orphan": {commands.RUN_LABEL: str(tmp_path / "gone.json"), commands.HOST_LABEL: here},
        "c-alive": {commands.RUN_LABEL: str(alive), commands.HOST_LABEL: here},
        "c-elsewhere": {commands.RUN_LABEL: str(tmp_path / "gone.json"), commands.HOST_LABEL: "another-host"},
        "c-unmarked": {"app.kubernetes.io/created-by": "egress-conformance"},
    }
    world.save(state)
    lines = kind.KindProvider.sweep(world.run)
    assert lines == [f"kind: removed container c-orphan (its run's journal {tmp_path / 'gone.json'} is gone)"]
    assert world.issued == [commands.docker_available(), commands.list_marked_containers(),
                            commands.remove_container("c-orphan")]
    assert sorted(world.load()["containers"]) == ["c-alive", "c-elsewhere", "c-unmarked"]


def test_without_docker_the_sweep_does_nothing(monkeypatch):
    monkeypatch.setattr(kind.shutil, "which", lambda tool: None)
    assert kind.KindProvider.sweep(lambda argv, timeout: pytest.fail(f"ran {argv}")) == []
    monkeypatch.setattr(kind.shutil, "which", lambda tool: f"/usr/bin/{tool}")
    issued = []

    def no_daemon(argv, timeout):
        issued.append(argv)
        raise subprocess.CalledProcessError(1, argv, "", "Cannot connect to the Docker daemon")

    assert kind.KindProvider.sweep(no_daemon) == [] and issued == [commands.docker_available()]


def test_a_name_in_use_is_someone_elses_container_and_left_alone(world, monkeypatch):
    state = world.load()
    state["containers"] = {CONTAINER: {}}
    world.save(state)
    with pytest.raises(kind.ProviderError, match="container egress-conformance-httpbin exists already: left alone"):
        start(world, monkeypatch, keep_cluster=True)
    assert REMOVE_CONTAINER not in world.issued and CONTAINER in world.load()["containers"]
    assert journal.pending() == []


def test_a_failed_cluster_create_is_deleted_at_once_and_settled(world, monkeypatch):
    def create_fails(argv, timeout):
        if argv[:3] == ["kind", "create", "cluster"]:
            world.run(argv, timeout)  # half made: kind's nodes exist
            raise subprocess.CalledProcessError(1, argv, "", "ERROR: failed to create cluster: timed out")
        return world.run(argv, timeout)

    provider = kind.KindProvider(kind.KindProvider.parse_options({"istio_version": "1.31"}), create_fails)
    undo = cleanup.Stack()
    with pytest.raises(kind.ProviderError, match="kind cluster pytest-egress-conformance not created: ERROR: failed"):
        provider.start(undo, journal.Journal())
    assert world.issued[-1] == DELETE_CLUSTER and world.load()["clusters"] == []
    assert journal.pending() == []
    undo.close()


def test_old_journals_still_load_and_unknown_kinds_are_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("EGRESS_CONFORMANCE_STATE", str(tmp_path))
    directory = journal.directory()
    directory.mkdir(parents=True)
    (directory / "a.json").write_text(json.dumps({"cluster": {"provider": "existing"}, "entries": [
        {"kind": "mesh-config", "namespace": "istio-system", "name": "istio", "original": "x", "id": "1"}]}))
    assert journal.pending()[0].entries[0]["kind"] == "mesh-config"
    (directory / "b.json").write_text(json.dumps({"cluster": {}, "entries": [{"kind": "docker-container"}]}))
    with pytest.raises(journal.JournalError, match="b.json is corrupt or truncated"):
        journal.pending()
    with pytest.raises(ValueError, match="journal entry corefile needs namespace, name, original, written"):
        journal.Journal({"provider": "kind"}).changing("corefile", namespace="kube-system")


def test_a_container_already_gone_is_no_error():
    def gone(argv, timeout):
        raise subprocess.CalledProcessError(1, argv, "", "Error response from daemon: No such container: x")

    assert leftovers.remove_container("x", gone) == "container x already gone"


def test_restore_asks_kind_for_the_kubeconfig_when_the_runs_copy_is_gone(world, monkeypatch, capsys):
    state = world.load()
    state["clusters"] = [CLUSTER]
    world.save(state)
    killed_run(world, monkeypatch, "patch Corefile")
    pending, = journal.pending()
    pathlib.Path(pending.data["cluster"]["kubeconfig"]).unlink()  # /tmp cleaned by a reboot
    issued_by_run = len(world.issued)
    monkeypatch.setattr(runner, "run", world.run)
    connected = []
    monkeypatch.setattr(cli.kube, "connect", lambda path, context=None: connected.append(path.read_text()) or "api")
    assert cli.main(["restore", "--no-sweep"]) == 0, capsys.readouterr().err
    assert world.issued[issued_by_run:] == [commands.get_kubeconfig(CLUSTER), REMOVE_CONTAINER]
    assert connected == ["apiVersion: v1\nkind: Config\n"] and world.load()["corefile"] == ORIGINAL
