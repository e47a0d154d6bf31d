"""Creating an object in a cluster the way every change of the suite is made: journaled
before it happens (so ``restore`` can remove it after a kill), its undo registered the
moment it exists (so a normal end removes it and settles the journal entry)."""

import json

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from egress_conformance.changes import cleanup, undoing
from egress_conformance.changes.journal import Journal
from egress_conformance.cluster import kube


class InvalidObject(Exception):
    """The API refused an object as invalid; str(err) is one line with the API's reason."""


def create(api: client.ApiClient, obj: dict, undo: cleanup.Stack, journal: Journal) -> cleanup.Undo:
    """Create ``obj``; return its registered undo (delete, wait until gone, settle)."""
    entry = journal.object_creating(obj)
    try:
        kube.create(api, obj)
    except ApiException as err:
        if err.status and err.status < 500:  # refused (invalid, forbidden, exists): nothing was created
            journal.settle(entry)
            if err.status in (400, 422):
                raise InvalidObject(f"{obj['kind']} {obj['metadata'].get('name')} is invalid, the API refused it: "
                                    f"{_api_message(err)}; fix the manifest") from None
            raise
        _after_an_unanswered_create(api, obj, undo, journal, entry)
        raise
    except BaseException:
        _after_an_unanswered_create(api, obj, undo, journal, entry)
        raise
    return _created(api, obj, undo, journal, entry)


def _created(api: client.ApiClient, obj: dict, undo: cleanup.Stack, journal: Journal, entry: dict) -> cleanup.Undo:
    # As the API made it (defaults and admission webhooks, e.g. the injected sidecar, included);
    # fields added later by the system, like a Pod's nodeName, are nobody's edit
    # (undoing.still_as_created compares only the fields recorded here). Its uid tells it
    # from an object someone deleted and made again under the same name.
    live = kube.get(api, obj)
    journal.object_created(entry, live.get("spec") if live else None, live["metadata"].get("uid") if live else None)

    def delete():
        # Only while it is still what the run created (undoing.py).
        undoing.delete_created(api, obj, entry.get("spec"), uid=entry.get("uid"))
        journal.settle(entry)

    meta = obj["metadata"]
    where = f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else meta["name"]
    return undo.push(f"delete {obj['kind']} {where}", delete)


def _after_an_unanswered_create(api: client.ApiClient, obj: dict, undo: cleanup.Stack, journal: Journal,
                                entry: dict) -> None:
    """A create that timed out, got a 5xx or was interrupted may have happened: a GET decides.
    Absent: nothing to restore. There: it is the run's, undone like any other. No answer:
    the entry stays for ``restore``."""
    try:
        exists = kube.get(api, obj) is not None
    except Exception:
        return
    if exists:
        _created(api, obj, undo, journal, entry)
    else:
        journal.settle(entry)


def _api_message(err: ApiException) -> str:
    try:
        return json.loads(err.body)["message"].splitlines()[0]
    except (TypeError, ValueError, KeyError, IndexError):
        return f"HTTP {err.status} {err.reason}"
