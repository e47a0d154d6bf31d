"""Creating an object in a cluster the way every change of the suite is made: journaled
before it happens (so ``restore`` can remove it after a kill), its undo registered the
moment it exists (so a normal end removes it and settles the journal entry)."""

from kubernetes import client

from egress_conformance import cleanup, kube
from egress_conformance.journal import Journal


def create(api: client.ApiClient, obj: dict, undo: cleanup.Stack, journal: Journal) -> cleanup.Undo:
    """Create ``obj``; return its registered undo (delete, wait until gone, settle)."""
    entry = journal.object_creating(obj)
    kube.create(api, obj)

    def delete():
        kube.delete_and_wait(api, obj)
        journal.settle(entry)

    meta = obj["metadata"]
    where = f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else meta["name"]
    return undo.push(f"delete {obj['kind']} {where}", delete)
