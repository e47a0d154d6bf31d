"""Restoring after interrupted runs, from their journals: which journals to restore (this
machine's unrestored ones, and those a cluster keeps, each taking
the place of this machine's copy of the same run), undoing each, then freeing a dead run's
Leases. A journal whose run is still going, here or by a Lease seen renewed, is left to it
(unless forced).

The command (``egress-conformance restore``) parses its options and hands over what only it
knows: how to reach the cluster it was given, and how each provider reconnects to a journal's
cluster. Every line it prints comes through ``say``."""

from collections.abc import Callable

from kubernetes import client

from egress_conformance.changes import cluster_journal, journal

Connect = Callable[[], client.ApiClient]


class RestoreError(Exception):
    """A one-line reason restoring cannot go on; nothing after it is restored."""


def restore(connect: Connect | None, namespace: str | None, reconnect_for: Callable[[dict], Connect], *,
            discard: bool, force: bool, say: Callable[[str], None]) -> list[str]:
    """Restore (or, with ``discard``, forget) every journal to settle: this machine's, and with
    ``connect`` those kept in that cluster (in ``namespace`` only, if given) by dead runs.
    ``reconnect_for(cluster)`` reaches the cluster a journal of this machine names. Returns the
    conflicts: changes someone else made since the run, left in place and in the journal unless ``force``."""
    try:
        pending = journal.pending()
    except journal.JournalError as err:
        raise RestoreError(str(err)) from None
    for other in journal.running():
        say(f"journal {journal.describe(other)}: its run (pid {other.data['pid']}) is still going: left to it")
    api = connect() if connect else None
    in_cluster = _cluster_journals(api, namespace, pending, say) if api else []
    if not pending and not in_cluster:
        say("nothing to restore: no unrestored journal")
    conflicts = []
    for entry in pending + in_cluster:
        say(f"journal {journal.describe(entry)}")
        if discard:
            entry.discard()
            say("  discarded without restoring")
            continue
        conflicts += _restore_one(entry, api if entry.sink else None, reconnect_for, force, say)
    return conflicts


def _cluster_journals(api, namespace: str | None, local: list[journal.Journal],
                      say: Callable[[str], None]) -> list[journal.Journal]:
    """The journals a cluster keeps, each taking the place of this machine's copy of the same run
    (both are settled as it is restored; one whose Lease is live is refused in _restore_one)."""
    try:
        kept = cluster_journal.found(api, namespace)
    except Exception as err:
        raise RestoreError(f"cannot list the journals kept in the cluster ({_short(err)}); with only a Role in the "
                           "test namespace, pass --test-namespace") from None
    dead = []
    for sink, data in kept:
        try:
            entry = journal.Journal.from_cluster(sink, data)
        except journal.JournalError as err:
            raise RestoreError(str(err)) from None
        same = next((j for j in local if j.data.get("run") == entry.run_id), None)
        if same:
            local.remove(same)
            entry.path = same.path
        dead.append(entry)
    return dead


def _restore_one(entry: journal.Journal, api, reconnect_for: Callable[[dict], Connect], force: bool,
                 say: Callable[[str], None]) -> list[str]:
    """Undo one journal (then free a dead run's Leases); its conflicts."""
    cluster = entry.data["cluster"]
    reconnect = reconnect_for(cluster) if api is None else (lambda: api)
    try:
        live = cluster_journal.live_holders(reconnect(), [entry])[0] if entry.data.get("leases") else []
        if live and not force:
            # A run renewing a Lease the journal's run took is changing that cluster now.
            held = "; ".join(f"Lease {where} is held by {holder.describe()}" for where, holder in live)
            return [f"journal {entry.name}: {held}, renewed while watched: left to that run; restore once it "
                    "has ended, or pass --force to restore now"]
        lines, found = journal.restore(entry, reconnect, force=force)
        if not found and (entry.data.get("leases") or entry.data.get("mirror")):
            lines += cluster_journal.release(entry, reconnect())
    except journal.UndoFailed as err:
        raise RestoreError(f"cannot restore {entry.name}: {err}") from None
    except Exception as err:
        raise RestoreError(f"cannot restore {entry.name}: cluster {cluster.get('server')} unreachable or "
                           f"refusing ({_short(err)}); if that cluster is gone, run `egress-conformance restore "
                           "--discard`") from None
    for line in lines:
        say(f"  {line}")
    return found


def _short(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return text[0][:200] if text else type(err).__name__
