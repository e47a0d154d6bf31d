"""The run's journal: before any change to a cluster, what it was, on disk.

A change is journaled before it is made and settled once its undo has run. A
run killed at any point (even SIGKILL) leaves its unsettled entries behind;
``egress-conformance restore`` puts the cluster back from them, and the next
run refuses to start while any journal is unrestored.

Each entry has a type (ENTRY_TYPES): the cluster's own changes are defined here; a
provider that changes things outside a cluster (kind's cluster) registers its types.
"""

import dataclasses
import datetime
import functools
import json
import os
import pathlib
import secrets
from collections.abc import Callable
from typing import Any, Protocol

from kubernetes import client

from egress_conformance.changes import undoing


class ClusterBusy(Exception):
    """Another run, still going, is changing the same cluster; str(err) says which."""


class UndoFailed(Exception):
    """Undoing an entry outside the cluster failed (a command); str(err) is one line naming it."""


class JournalError(Exception):
    """A journal file that cannot be read (corrupt, truncated); str(err) says what to do."""


def directory() -> pathlib.Path:
    """$EGRESS_CONFORMANCE_STATE/journals, else /var/lib (root) or ~/.local/state."""
    configured = os.environ.get("EGRESS_CONFORMANCE_STATE")
    if configured:
        base = pathlib.Path(configured)
    elif os.geteuid() == 0:
        base = pathlib.Path("/var/lib/egress-conformance")
    else:
        base = pathlib.Path.home() / ".local" / "state" / "egress-conformance"
    return base / "journals"


class Sink(Protocol):
    """A second place the journal is written to (the cluster's copy: cluster_journal.py)."""

    @property
    def where(self) -> str: ...

    def write(self, data: dict) -> None: ...

    def remove(self) -> None: ...


class Journal:
    """The journal of one run against one cluster: a file on this machine, and, once the
    provider mirrors it, a copy in the cluster (``mirror``)."""

    def __init__(self, cluster: dict | None = None, path: pathlib.Path | None = None):
        self.path: pathlib.Path | None = (
            path or directory() / f"{datetime.datetime.now():%Y%m%d-%H%M%S}-{secrets.token_hex(3)}.json")
        self.sink: Sink | None = None
        self.data: dict[str, Any] = {
            "cluster": cluster, "started": datetime.datetime.now().isoformat(timespec="seconds"),
            "pid": os.getpid(), "pidStart": _start_ticks(os.getpid()), "entries": []}

    @property
    def run_id(self) -> str:
        """The run's name in the cluster (its Lease holder, its journal ConfigMap)."""
        return self.path.stem if self.path else str(self.data.get("run"))

    def mirror(self, sink: Sink) -> None:
        """Write the journal to ``sink`` too, from now on (and what it holds already, now)."""
        self.data["run"] = self.run_id
        self.data["mirror"] = sink.where
        self.sink = sink
        self._write()

    def bind(self, cluster: dict) -> None:
        """Name the cluster the run changes (how ``restore`` reaches it); the provider does
        this as soon as it can reach the cluster, before its first change. Raises ClusterBusy
        while another run is changing the same cluster: their verdicts would mix."""
        for other in running():
            if _cluster_key(other.data["cluster"]) == _cluster_key(cluster):
                raise ClusterBusy(f"another run (pid {other.data['pid']}, started {other.data['started']}) is "
                                  f"changing cluster {_cluster_key(cluster)} now: wait for it to end")
        self.data["cluster"] = cluster

    @classmethod
    def load(cls, path: pathlib.Path) -> "Journal":
        """The journal in ``path``; raises JournalError if it is not a whole journal."""
        try:
            loaded = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError):
            loaded = None
        journal = cls({}, path)
        journal.data = _checked(loaded, str(path), "delete the file")
        return journal

    @classmethod
    def from_cluster(cls, sink: Sink, loaded) -> "Journal":
        """A journal kept in the cluster (``sink`` holds it; no file on this machine)."""
        journal = cls({}, pathlib.Path("unused"))
        journal.path = None
        journal.data = _checked(loaded, f"ConfigMap {sink.where}", f"delete ConfigMap {sink.where}")
        journal.sink = sink
        return journal

    @property
    def name(self) -> str:
        """How the user finds it: the file's name, or the ConfigMap's place."""
        if self.path:
            return self.path.name
        return f"ConfigMap {self.sink.where}" if self.sink else self.run_id

    @property
    def entries(self) -> list[dict]:
        return self.data["entries"]

    def discard(self) -> None:
        """Forget the journal without restoring (its cluster is gone): the file and the cluster's copy."""
        if self.path:
            self.path.unlink(missing_ok=True)
        if self.sink:
            self.sink.remove()


    def changing(self, entry_type: str, **fields) -> dict:
        """Record a change of ``entry_type`` (ENTRY_TYPES) with the fields its undo needs, before it is made."""
        entry = {"type": entry_type, **fields}
        if not _whole(entry):
            needs = ", ".join(ENTRY_TYPES[entry_type].fields) if entry_type in ENTRY_TYPES else "a known type"
            raise ValueError(f"journal entry {entry_type} needs {needs}")
        return self._record(entry)

    def mesh_config_changing(self, where: tuple[str, str], original: str, written: str) -> dict:
        """Record the mesh config's original text, and the text about to be written, before the write
        (restore puts the original back only over the run's own text)."""
        return self.changing("mesh-config", namespace=where[0], name=where[1], original=original, written=written)

    def object_creating(self, obj: dict) -> dict:
        """Record an object about to be created (restore deletes it)."""
        meta = obj["metadata"]
        return self._record({"type": "created", "object": {
            "apiVersion": obj["apiVersion"], "kind": obj["kind"],
            "metadata": {"name": meta["name"], "namespace": meta.get("namespace")}}})

    def object_created(self, entry: dict, spec, uid: str | None = None) -> None:
        """Record the spec and uid the created object has (restore deletes it only while it is
        still that object, with that spec)."""
        entry["spec"] = spec
        if uid:
            entry["uid"] = uid
        self._write()

    def settle(self, entry: dict) -> None:
        """The change has been undone: drop its entry (and the file once empty)."""
        if entry in self.entries:
            self.entries.remove(entry)
        self._write()

    def _record(self, entry: dict) -> dict:
        if not self.data["cluster"]:
            raise RuntimeError("journal entry before the journal names its cluster (Journal.bind)")
        entry["id"] = secrets.token_hex(4)
        self.entries.append(entry)
        self._write()
        return entry

    def _write(self) -> None:
        # The cluster's copy first: a run that cannot write it must not change anything.
        if self.sink:
            if self.entries:
                self.sink.write(self.data)
            else:
                self.sink.remove()
        if self.path is None:
            return
        if not self.entries:
            self.path.unlink(missing_ok=True)
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temp = self.path.with_suffix(".tmp")
        temp.write_text(json.dumps(self.data, indent=1))
        temp.replace(self.path)  # atomic: a kill never leaves half a journal


def _checked(loaded, where: str, remedy: str) -> dict[str, Any]:
    """A loaded journal's data once it is a whole journal of known entry types; raises JournalError."""
    data: dict[str, Any] = loaded if isinstance(loaded, dict) else {}
    entries = data.get("entries") if isinstance(data.get("entries"), list) else None
    for entry in entries or []:
        if isinstance(entry, dict) and "type" not in entry and "kind" in entry:
            entry["type"] = entry.pop("kind")  # written by a version before the field's rename
    unknown = sorted({e["type"] for e in entries or [] if isinstance(e, dict) and isinstance(e.get("type"), str)
                      and e["type"] not in ENTRY_TYPES})
    if unknown:
        raise JournalError(f"journal {where} holds changes of a type this version of the suite does not know "
                           f"({', '.join(unknown)}): restore it with the version that wrote it, or check the "
                           f"cluster by hand, then {remedy}")
    if not isinstance(data.get("cluster"), dict) or entries is None or not all(map(_whole, entries)):
        raise JournalError(f"journal {where} is corrupt or truncated (not a whole journal): what it recorded "
                           f"cannot be restored from it; check the cluster by hand, then {remedy}")
    return data


def _all() -> list[Journal]:
    if not directory().exists():
        return []
    return [Journal.load(path) for path in sorted(directory().glob("*.json"))]


def pending() -> list[Journal]:
    """Journals of runs that ended without undoing everything they changed, oldest first."""
    return [journal for journal in _all() if not in_progress(journal)]


def running() -> list[Journal]:
    """Journals of other runs still going: their changes are theirs to undo, not restore's."""
    return [journal for journal in _all() if in_progress(journal)]


def of_this_process() -> list[Journal]:
    """Journals this process wrote that still hold changes (what an interrupted run left)."""
    return [journal for journal in _all() if journal.data.get("pid") == os.getpid()]


def in_progress(journal: Journal) -> bool:
    """Is the journal's run another process that is still alive (the same process, not a
    later one that reused its pid)? A journal without its process's start time counts as ended."""
    pid = journal.data.get("pid")
    if not isinstance(pid, int) or pid == os.getpid() or not journal.data.get("pidStart"):
        return False
    return _start_ticks(pid) == journal.data["pidStart"]


def _start_ticks(pid: int) -> str | None:
    """A process's start time (clock ticks since boot, /proc/PID/stat field 22), None if it is gone."""
    try:
        return pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _cluster_key(cluster: dict | None) -> str | None:
    cluster = cluster or {}
    return cluster.get("server") or cluster.get("kindCluster")


def describe(journal: Journal) -> str:
    """One line naming a journal's run, cluster and what it still holds (the first few of many)."""
    cluster = journal.data["cluster"]
    texts = [_entry_text(e) for e in journal.entries]
    held = ", ".join(texts[:4]) + (f" and {len(texts) - 4} more" if len(texts) > 4 else "")
    return (f"{journal.name}: run of {journal.data['started']} on {cluster.get('provider')} cluster "
            f"{cluster.get('server')}: {held}")


class Means:
    """What undoing entries may use: the cluster's API, connected on first use only (a journal
    whose cluster is deleted needs none), a command runner (None: the entry type's own), and
    the user's --force."""

    def __init__(self, connect: Callable[[], client.ApiClient], run: Callable | None, force: bool):
        self._connect = connect
        self.run = run
        self.force = force

    @functools.cached_property
    def api(self) -> client.ApiClient:
        return self._connect()


@dataclasses.dataclass(frozen=True)
class EntryType:
    """A type of journal entry: the fields it holds, how it reads, how it is undone, and whether
    it lives in the cluster (then deleting the run's own cluster undoes it too)."""

    fields: tuple[str, ...]
    text: Callable[[dict], str]
    undo: Callable[[dict, Means], str]
    in_cluster: bool = True
    holds_cluster: bool = False
    """Undoing it deletes the run's own cluster: the in-cluster entries go with it."""


ENTRY_TYPES = {
    "mesh-config": EntryType(
        ("namespace", "name", "original"), lambda e: f"mesh config {e['namespace']}/{e['name']} changed",
        lambda e, m: undoing.restore_mesh_config(m.api, (e["namespace"], e["name"]), e["original"],
                                                 e.get("written"), force=m.force)),
    "created": EntryType(
        ("object",), lambda e: f"{e['object']['kind']} {_where(e['object']['metadata'])} created",
        lambda e, m: undoing.delete_created(m.api, e["object"], e.get("spec"), uid=e.get("uid"), force=m.force)),
}
"""Every journal entry type this process knows, by the name written in the journal."""


def register(types: dict[str, EntryType]) -> None:
    """Know the entry types a provider journals (changes it makes outside a cluster)."""
    ENTRY_TYPES.update(types)


def restore(journal: Journal, connect: Callable[[], client.ApiClient], *, force: bool = False,
            run: Callable | None = None) -> tuple[list[str], list[str]]:
    """Undo a journal's entries, newest first, each only while it is still the run's own change
    (undoing.py; ``force`` undoes anyway). Returns a line per undone entry and one per conflict;
    conflicting entries stay in the journal. A created object in conflict keeps what holds it:
    the entries older than it (its namespace, say) are left for the user's decision too.
    When the journal holds the run's own cluster, everything inside it goes with it: those
    entries are settled without reaching its API (which may be gone already)."""
    means = Means(connect, run, force)
    doomed = next((ENTRY_TYPES[e["type"]].text(e) for e in journal.entries if ENTRY_TYPES[e["type"]].holds_cluster),
                  None)
    done: list[str] = []
    conflicts: list[str] = []
    for entry in reversed(list(journal.entries)):
        entry_type = ENTRY_TYPES[entry["type"]]
        if doomed and entry_type.in_cluster:
            done.append(f"{entry_type.text(entry)}: goes with {doomed.removesuffix(' created')}")
        elif conflicts and entry["type"] == "created":
            conflicts.append(f"{entry_type.text(entry)}: left, after the conflict above")
            continue
        else:
            try:
                done.append(entry_type.undo(entry, means))
            except undoing.RestoreConflict as err:
                conflicts.append(str(err))
                continue
        journal.settle(entry)
    return done, conflicts


def _whole(entry) -> bool:
    return (isinstance(entry, dict) and entry.get("type") in ENTRY_TYPES
            and all(field in entry for field in ENTRY_TYPES[entry["type"]].fields))


def _entry_text(entry: dict) -> str:
    return ENTRY_TYPES[entry["type"]].text(entry)


def _where(meta: dict) -> str:
    return f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else meta["name"]
