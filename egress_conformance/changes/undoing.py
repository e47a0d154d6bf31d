"""Undoing a change only while it is still the run's own: never clobber someone else's edit.

The mesh config is put back only if it still holds the text the run wrote; an object the
run created is deleted only if its spec still holds every field the run set. Otherwise the
undo raises RestoreConflict, naming both texts, and the journal entry is kept;
``egress-conformance restore --force`` undoes anyway, for the user who has decided. The
writes are conditional on the resourceVersion that was compared, so an edit landing
between the check and the write is not lost either (the API answers 409 and the undo is
a conflict).
"""

import json

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from egress_conformance.cluster import kube, meshconfig


class RestoreConflict(Exception):
    """Someone changed what the run changed; str(err) is one line naming both texts and what to do."""


def restore_mesh_config(api: client.ApiClient, where: tuple[str, str], original: str, written: str | None,
                        *, force: bool = False) -> str:
    """Put ``original`` back if the ConfigMap still holds ``written`` (None: no record of it, as in
    journals of older versions); return a line saying what was done."""
    namespace, name = where
    what = f"mesh config {namespace}/{name}"
    if not restore_config_map_text(api, where, "mesh", original, written, what=what, force=force):
        return f"{what} already holds its original text"
    if meshconfig.read(api, where) != original:
        raise RuntimeError(f"{what} did not read back as the original")
    return f"restored {what} to its original text ({meshconfig.message(meshconfig.policy_of(original))})"


def restore_config_map_text(api: client.ApiClient, where: tuple[str, str], key: str, original: str,
                            written: str | None, *, what: str, force: bool = False) -> bool:
    """Write ``original`` back to ``key`` of a ConfigMap that still holds ``written`` (None: not
    recorded); False when it already holds the original. Raises RestoreConflict otherwise."""
    namespace, name = where
    live = client.CoreV1Api(api).read_namespaced_config_map(name, namespace)
    current = (live.data or {}).get(key, "")
    unmark = {"annotations": {meshconfig.CHANGED_BY: None}}  # the run no longer holds a change here
    if current == original:
        if meshconfig.CHANGED_BY in (live.metadata.annotations or {}):
            client.CoreV1Api(api).patch_namespaced_config_map(name, namespace, {"metadata": unmark})
        return False
    if written is not None and current != written and not force:
        raise RestoreConflict(
            f"{what} was changed by someone else since the run wrote it: the run wrote "
            f"{json.dumps(written)}, it now holds {json.dumps(current)}; left as it is, journal kept; run "
            "`egress-conformance restore --force` to put back the original anyway")
    patch = {"metadata": {"resourceVersion": live.metadata.resource_version, **unmark}, "data": {key: original}}
    try:
        client.CoreV1Api(api).patch_namespaced_config_map(name, namespace, patch)
    except ApiException as err:
        if err.status != 409:
            raise
        raise RestoreConflict(f"{what} changed while it was being restored; left as it is, "
                              "journal kept; run `egress-conformance restore` again") from None
    return True


def still_as_created(requested, live) -> bool:
    """Does ``live`` still hold every field the run set, with the run's value? Fields the API
    added (defaults, a Pod's nodeName) are not an edit; a changed or removed one is."""
    if isinstance(requested, dict):
        return isinstance(live, dict) and all(k in live and still_as_created(v, live[k]) for k, v in requested.items())
    if isinstance(requested, list):
        return (isinstance(live, list) and len(live) == len(requested)
                and all(still_as_created(wanted, found) for wanted, found in zip(requested, live, strict=True)))
    return requested == live


def delete_created(api: client.ApiClient, obj: dict, spec, *, uid: str | None = None, force: bool = False) -> str:
    """Delete an object the run created if it is still that object (``uid``; None: not
    recorded) with spec ``spec`` (None: not recorded); return a line saying what was done.
    The delete is conditional on the uid and resourceVersion compared: an object replaced
    in between is never deleted."""
    meta = obj["metadata"]
    where = f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else meta["name"]
    live = kube.get(api, obj)
    if live is None:
        return f"{obj['kind']} {where} already gone"
    if uid is not None and live["metadata"].get("uid") != uid and not force:
        raise RestoreConflict(
            f"{obj['kind']} {where} is not the object the run created: someone deleted it and made another under "
            "the same name (its uid differs); left as it is, journal kept; run `egress-conformance restore "
            "--force` to delete it anyway")
    if spec is not None and not still_as_created(spec, live.get("spec")) and not force:
        raise RestoreConflict(
            f"{obj['kind']} {where} was changed by someone else since the run created it: the run created spec "
            f"{json.dumps(spec, sort_keys=True)}, it now has {json.dumps(live.get('spec'), sort_keys=True)}; left "
            "as it is, journal kept; run `egress-conformance restore --force` to delete it anyway")
    try:
        kube.delete_and_wait(api, obj, preconditions={"uid": live["metadata"].get("uid"),
                                                      "resourceVersion": live["metadata"].get("resourceVersion")})
    except ApiException as err:
        if err.status != 409:
            raise
        raise RestoreConflict(f"{obj['kind']} {where} changed while it was being deleted; left as it is, journal "
                              "kept; run `egress-conformance restore` again") from None
    return f"deleted {obj['kind']} {where}"
