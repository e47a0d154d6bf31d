"""The run's journal: before any change to a cluster, what it was, on disk.

A change is journaled before it is made and settled once its undo has run. A
run killed at any point (even SIGKILL) leaves its unsettled entries behind;
``egress-conformance restore`` puts the cluster back from them, and the next
run refuses to start while any journal is unrestored.
"""

import datetime
import json
import os
import pathlib
import secrets

from kubernetes import client

from egress_conformance import undoing


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


class Journal:
    """The journal of one run against one cluster."""

    def __init__(self, cluster: dict | None = None, path: pathlib.Path | None = None):
        self.path = path or directory() / f"{datetime.datetime.now():%Y%m%d-%H%M%S}-{secrets.token_hex(3)}.json"
        self.data = {"cluster": cluster, "started": datetime.datetime.now().isoformat(timespec="seconds"),
                     "pid": os.getpid(), "entries": []}

    def bind(self, cluster: dict) -> None:
        """Name the cluster the run changes (how ``restore`` reaches it); the provider does
        this as soon as it can reach the cluster, before its first change."""
        self.data["cluster"] = cluster

    @classmethod
    def load(cls, path: pathlib.Path) -> "Journal":
        """The journal in ``path``; raises JournalError if it is not a whole journal."""
        journal = cls({}, path)
        try:
            journal.data = json.loads(path.read_text())
            valid = (isinstance(journal.data, dict) and isinstance(journal.data.get("cluster"), dict)
                     and isinstance(journal.data.get("entries"), list)
                     and all(isinstance(e, dict) and e.get("kind") in ("mesh-config", "created")
                             for e in journal.data["entries"]))
        except (json.JSONDecodeError, UnicodeDecodeError):
            valid = False
        if not valid:
            raise JournalError(f"journal {path} is corrupt or truncated (not a whole journal): what it recorded "
                               "cannot be restored from it; check the cluster by hand, then delete the file")
        return journal

    @property
    def entries(self) -> list[dict]:
        return self.data["entries"]

    def mesh_config_changing(self, where: tuple[str, str], original: str, written: str) -> dict:
        """Record the mesh config's original text, and the text about to be written, before the write
        (restore puts the original back only over the run's own text)."""
        return self._record({"kind": "mesh-config", "namespace": where[0], "name": where[1], "original": original,
                             "written": written})

    def object_creating(self, obj: dict) -> dict:
        """Record an object about to be created (restore deletes it)."""
        meta = obj["metadata"]
        return self._record({"kind": "created", "object": {
            "apiVersion": obj["apiVersion"], "kind": obj["kind"],
            "metadata": {"name": meta["name"], "namespace": meta.get("namespace")}}})

    def object_created(self, entry: dict, spec) -> None:
        """Record the spec the created object has (restore deletes it only while it still has it)."""
        entry["spec"] = spec
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
        if not self.entries:
            self.path.unlink(missing_ok=True)
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temp = self.path.with_suffix(".tmp")
        temp.write_text(json.dumps(self.data, indent=1))
        temp.replace(self.path)  # atomic: a kill never leaves half a journal


def pending() -> list[Journal]:
    """Journals of runs that did not undo everything they changed, oldest first."""
    if not directory().exists():
        return []
    return [Journal.load(path) for path in sorted(directory().glob("*.json"))]


def describe(journal: Journal) -> str:
    """One line naming a journal's run, cluster and what it still holds."""
    cluster = journal.data["cluster"]
    kinds = ", ".join(_entry_text(e) for e in journal.entries)
    return (f"{journal.path.name}: run of {journal.data['started']} on {cluster.get('provider')} cluster "
            f"{cluster.get('server')}: {kinds}")


def restore(journal: Journal, api: client.ApiClient, *, force: bool = False) -> tuple[list[str], list[str]]:
    """Undo a journal's entries, newest first, each only while it is still the run's own change
    (undoing.py; ``force`` undoes anyway). Returns a line per undone entry and one per conflict;
    conflicting entries stay in the journal. A created object in conflict keeps what holds it:
    the entries older than it (its namespace, say) are left for the user's decision too."""
    done, conflicts = [], []
    for entry in reversed(list(journal.entries)):
        if conflicts and entry["kind"] == "created":
            conflicts.append(f"{_entry_text(entry)}: left, after the conflict above")
            continue
        try:
            if entry["kind"] == "mesh-config":
                done.append(undoing.restore_mesh_config(api, (entry["namespace"], entry["name"]), entry["original"],
                                                        entry.get("written"), force=force))
            elif entry["kind"] == "created":
                done.append(undoing.delete_created(api, entry["object"], entry.get("spec"), force=force))
        except undoing.RestoreConflict as err:
            conflicts.append(str(err))
            continue
        journal.settle(entry)
    return done, conflicts


def _entry_text(entry: dict) -> str:
    if entry["kind"] == "mesh-config":
        return f"mesh config {entry['namespace']}/{entry['name']} changed"
    return f"{entry['object']['kind']} {_where(entry['object']['metadata'])} created"


def _where(meta: dict) -> str:
    return f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else meta["name"]
