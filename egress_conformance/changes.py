"""Creating an object in a cluster the way every change of the suite is made: journaled
before it happens (so ``restore`` can remove it after a kill), its undo registered the
moment it exists (so a normal end removes it and settles the journal entry)."""

from kubernetes import client

from egress_conformance import cleanup, kube, undoing
from egress_conformance.journal import Journal


def create(api: client.ApiClient, obj: dict, undo: cleanup.Stack, journal: Journal) -> cleanup.Undo:
    """Create ``obj``; return its registered undo (delete, wait until gone, settle)."""
    entry = journal.object_creating(obj)
    kube.create(api, obj)
    live = kube.get(api, obj)
    journal.object_created(entry, live.get("spec") if live else None)

    def delete():
        # Only while it is still what the run created (undoing.py).
        undoing.delete_created(api, obj, entry.get("spec"))
        journal.settle(entry)

    meta = obj["metadata"]
    where = f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else meta["name"]
    return undo.push(f"delete {obj['kind']} {where}", delete)
