"""The run lock on a cluster the suite did not create: a coordination.k8s.io/v1 Lease, held
and renewed while the run lives, so that runs from different machines (CI runners, the
in-cluster Job) never change the same thing at once.

It fences the way client-go's leader election does (k8s.io/client-go/tools/leaderelection):
- a holder is alive while its Lease changes within its duration *as this process watches
  it*: the reader's clock is never compared with the renewTime the holder's clock wrote
  (a skewed clock, or a reader that stalled, would take a live run for a dead one);
- a renewal is a conditional update on the resourceVersion the run last wrote: once
  another run holds the Lease, or it is gone, the renewal fails and the run knows;
- a run that cannot renew within RENEW_DEADLINE_SECONDS, or finds its Lease taken, has lost
  it and stops (``stop_the_run``): its undo still runs, with preconditions, and its result
  is "interrupted: lost the lease";
- the Lease is deleted with a precondition (the version the run wrote, or read), and is
  kept while the run's journal still holds changes (``restore`` frees it).
"""

import _thread
import dataclasses
import datetime
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Hashable
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

log = logging.getLogger("egress")

DURATION_SECONDS = 15
"""How long a Lease outlives its last renewal, as another process sees it change."""
RENEW_SECONDS = 5.0
"""How often the holder renews (a third of the duration)."""
RENEW_DEADLINE_SECONDS = 10.0
"""A holder that has not renewed for this long stops, before others may judge it dead."""
POLL_SECONDS = 1.0
"""How often a Lease another run holds is read while judging whether it is renewed."""

JOURNAL_ANNOTATION = "egress-conformance.dev/journal"
"""On the Lease: where the holder's journal is in the cluster (namespace/ConfigMap)."""

LABEL = "egress-conformance.dev/lease"

_lost: list[str] = []


class Busy(Exception):
    """Another run, alive, holds the Lease; str(err) names it."""


class Lost(Exception):
    """The run's Lease is held by another run now, or gone; str(err) says which."""


@dataclasses.dataclass(frozen=True)
class Holder:
    """Who holds a Lease (as the Lease says; whether it is alive takes watching: ``observe``)."""

    identity: str
    renewed: datetime.datetime | None
    """As the holder's own clock wrote it: shown to people, never compared with ours."""
    journal: str | None
    """namespace/name of the holder's journal ConfigMap, if it said."""
    version: str = ""
    """The Lease's resourceVersion: it changes with every renewal."""
    duration: int = DURATION_SECONDS

    def describe(self) -> str:
        renewed = f", last renewed {self.renewed:%H:%M:%S} UTC by its own clock" if self.renewed else ""
        return f"run {self.identity or '(none)'}{renewed}"


def holder_of(lease) -> Holder:
    spec, annotations = lease.spec, lease.metadata.annotations or {}
    renewed = spec.renew_time or spec.acquire_time
    if isinstance(renewed, datetime.datetime) and renewed.tzinfo is None:
        renewed = renewed.replace(tzinfo=datetime.UTC)
    return Holder(spec.holder_identity or "", renewed, annotations.get(JOURNAL_ANNOTATION),
                  lease.metadata.resource_version or "", spec.lease_duration_seconds or DURATION_SECONDS)


@dataclasses.dataclass(frozen=True)
class Clock:
    """The time this process observes (monotonic: never set back) and how it waits."""

    now: Callable[[], float] = time.monotonic
    pause: Callable[[float], object] = dataclasses.field(default=lambda seconds: threading.Event().wait(seconds))


SYSTEM_CLOCK = Clock()


def observe_all(reads: dict[Hashable, Callable[[], Any]], clock: Clock = SYSTEM_CLOCK) -> dict[Hashable, tuple[
        Holder | None, bool]]:
    """For each Lease (``reads``: key -> a read returning the Lease or None), (its holder,
    alive): alive once its resourceVersion changes while watched (it was renewed), dead once it
    stays unchanged for its whole duration from this process's first read, or has no holder;
    (None, False) when there is no Lease. Live holders answer within a renewal period."""
    verdicts: dict[Hashable, tuple[Holder | None, bool]] = {}
    watching: dict[Hashable, Holder] = {}
    for key, read in reads.items():
        lease = read()
        holder = holder_of(lease) if lease is not None else None
        if holder is None or not holder.identity:
            verdicts[key] = (holder, False)
        else:
            watching[key] = holder
    started = clock.now()
    while watching:
        clock.pause(POLL_SECONDS)
        for key, holder in list(watching.items()):
            lease = reads[key]()
            if lease is None:
                verdicts[key] = (None, False)
            elif lease.metadata.resource_version != holder.version:
                verdicts[key] = (holder_of(lease), bool(holder_of(lease).identity))
            elif clock.now() - started >= holder.duration:
                verdicts[key] = (holder, False)
            else:
                continue
            del watching[key]
    return verdicts


def observe(read: Callable[[], Any], clock: Clock = SYSTEM_CLOCK) -> tuple[Holder | None, bool]:
    """``observe_all`` for one Lease."""
    return observe_all({0: read}, clock)[0]


def reader(coordination, namespace: str, name: str) -> Callable[[], Any]:
    """A read of one Lease: the Lease, or None when there is none."""

    def read():
        try:
            return coordination.read_namespaced_lease(name, namespace)
        except ApiException as err:
            if err.status == 404:
                return None
            raise

    return read


def stop_the_run(reason: str) -> None:
    """End the run as interrupted (from the renewing thread): the main thread gets the
    KeyboardInterrupt a SIGTERM would give (run/interrupts.py), so every undo still runs; the
    reason is kept for the report and the exit code (``lost``)."""
    _lost.append(reason)
    if callable(signal.getsignal(signal.SIGTERM)):
        # A real signal, delivered to the main thread, also cuts a call it is blocked in.
        os.kill(os.getpid(), signal.SIGTERM)
    else:
        _thread.interrupt_main(signal.SIGTERM)  # no handler of ours: this does nothing, never kills


def lost() -> str | None:
    """Why this process's run lost a Lease, or None."""
    return _lost[0] if _lost else None


def forget() -> None:
    """A new run starts in this process: no Lease lost yet."""
    _lost.clear()


class RunLease:
    """One Lease the run holds from ``acquire`` to ``release``, renewed in the background."""

    def __init__(self, api: client.ApiClient | None, namespace: str, name: str, identity: str, journal: str, *,
                 coordination=None, clock: Clock = SYSTEM_CLOCK, on_lost: Callable[[str], None] = stop_the_run):
        self.coordination = coordination or client.CoordinationV1Api(api)
        self.namespace, self.name, self.identity, self.journal = namespace, name, identity, journal
        self.clock, self.on_lost = clock, on_lost
        self.lost: str | None = None
        self._version = ""
        self._renewed = 0.0
        self._acquired: datetime.datetime | None = None
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    @property
    def where(self) -> str:
        return f"Lease {self.namespace}/{self.name}"

    def acquire(self, may_take_over: Callable[[Holder], str | None], *, renew: bool = True) -> None:
        """Create the Lease, or take over one whose holder is dead (its Lease not renewed for its
        whole duration while watched) and for which ``may_take_over(holder)`` says nothing is
        left to restore. Raises Busy, naming the holder, when a live run holds it (or a dead
        one left changes). ``renew``: start renewing in the background."""
        self._acquired = _now()
        made = None
        for _ in range(3):  # a Lease released between our create and our read: create again
            try:
                made = self.coordination.create_namespaced_lease(self.namespace, self._body())
                break
            except ApiException as err:
                if err.status != 409:
                    raise
            holder, alive = observe(reader(self.coordination, self.namespace, self.name), self.clock)
            if holder is None:
                continue
            if alive:
                raise Busy(f"another run holds {self.where} ({holder.describe()}; renewed while watched): it is "
                           "changing the same thing now; wait for it to end") from None
            refusal = may_take_over(holder)
            if refusal:
                raise Busy(refusal) from None
            log.info("taking over %s from %s (not renewed for %ss)", self.where, holder.describe(), holder.duration)
            try:
                # Conditional on the version watched unchanged: of two runs taking over at once, one gets 409.
                made = self.coordination.replace_namespaced_lease(self.name, self.namespace,
                                                                  self._body(resource_version=holder.version))
                break
            except ApiException as race:
                if race.status == 409:
                    raise Busy(f"another run took over {self.where} at the same moment; wait for it to end") \
                        from None
                raise
        if made is None:
            raise Busy(f"{self.where} keeps changing hands; wait for the other runs to end")
        self._version, self._renewed = made.metadata.resource_version, self.clock.now()
        if renew:
            self._renewer = threading.Thread(target=self._renew_loop, name=f"renew {self.where}", daemon=True)
            self._renewer.start()

    def renew(self) -> None:
        """Renew once: a conditional update on the version this run last wrote. Raises Lost
        when another run holds the Lease or it is gone; other errors are a renewal that did
        not get through (retried until RENEW_DEADLINE_SECONDS)."""
        try:
            made = self.coordination.replace_namespaced_lease(self.name, self.namespace,
                                                              self._body(resource_version=self._version))
        except ApiException as err:
            if err.status == 404:
                raise Lost(f"{self.where} was deleted by someone else") from None
            if err.status != 409:
                raise
            live = reader(self.coordination, self.namespace, self.name)()
            if live is None:
                raise Lost(f"{self.where} was deleted by someone else") from None
            holder = holder_of(live)
            if holder.identity != self.identity:
                raise Lost(f"{self.where} is held by {holder.describe()} now") from None
            # Still ours: an earlier renewal got through though its answer was lost; renew on that version.
            self._version = holder.version
            raise
        self._version, self._renewed = made.metadata.resource_version, self.clock.now()

    def _renew_loop(self) -> None:
        interval = RENEW_SECONDS
        while not self._stop.wait(interval):
            try:
                self.renew()
                interval = RENEW_SECONDS
            except Lost as err:
                self._lose(str(err))
                return
            except Exception as err:
                if self.clock.now() - self._renewed >= RENEW_DEADLINE_SECONDS:
                    self._lose(f"{self.where} not renewed for {RENEW_DEADLINE_SECONDS:.0f}s "
                               f"({str(err).splitlines()[0][:200] if str(err) else type(err).__name__})")
                    return
                log.warning("could not renew %s (retrying): %s", self.where, str(err).splitlines()[0][:200])
                interval = POLL_SECONDS

    def check(self) -> None:
        """One renewal now, as the renewing thread would (what a test of the fencing calls)."""
        try:
            self.renew()
        except Lost as err:
            self._lose(str(err))

    def _lose(self, why: str) -> None:
        self.lost = why
        log.error("lost the lease: %s; stopping the run (its changes are undone, each only while still its own)",
                  why)
        self.on_lost(f"lost the lease ({why})")

    def release(self, keep: bool = False, *, goes_with_namespace: bool = False) -> None:
        """Stop renewing; delete the Lease while it is still ours (conditional on the version the
        run last wrote), unless ``keep``: the run's journal still holds changes, and the Lease
        says so to the next run until ``restore`` frees it; or ``goes_with_namespace``: the run
        deletes the namespace it lives in next (held until then, then gone with it)."""
        self._stop.set()
        if self._renewer:
            self._renewer.join(timeout=DURATION_SECONDS)
        if self.lost:
            return
        if keep:
            log.warning("kept %s: the run's journal still holds changes; `egress-conformance restore` frees it",
                        self.where)
            return
        if goes_with_namespace:
            return
        try:
            self.coordination.delete_namespaced_lease(self.name, self.namespace, body=client.V1DeleteOptions(
                preconditions=client.V1Preconditions(resource_version=self._version)))
        except ApiException as err:
            if err.status not in (404, 409):  # gone already; or changed: no longer ours to delete
                raise

    def _body(self, resource_version: str | None = None) -> client.V1Lease:
        return client.V1Lease(
            metadata=client.V1ObjectMeta(name=self.name, namespace=self.namespace, labels={LABEL: "true"},
                                         annotations={JOURNAL_ANNOTATION: self.journal},
                                         resource_version=resource_version),
            spec=client.V1LeaseSpec(holder_identity=self.identity, lease_duration_seconds=DURATION_SECONDS,
                                    acquire_time=self._acquired or _now(), renew_time=_now()))


def read(api: client.ApiClient, namespace: str, name: str) -> Holder | None:
    """The holder of a Lease as it says (not whether it is alive: ``observe``), or None when there is none."""
    lease = reader(client.CoordinationV1Api(api), namespace, name)()
    return holder_of(lease) if lease is not None else None


def renewed(api: client.ApiClient, namespace: str, name: str) -> Holder | None:
    """The holder of a Lease if it renews it while watched (``observe``), else None."""
    holder, alive = observe(reader(client.CoordinationV1Api(api), namespace, name))
    return holder if alive else None


def free(api: client.ApiClient, namespace: str, name: str, identity: str, *, coordination=None) -> bool:
    """Remove the Lease of run ``identity``, which the caller has judged dead (restore's last
    step): the delete is conditional on the version read, so a Lease another run took, or
    that was renewed meanwhile, stays."""
    coordination = coordination or client.CoordinationV1Api(api)
    lease = reader(coordination, namespace, name)()
    if lease is None or holder_of(lease).identity != identity:
        return False
    try:
        coordination.delete_namespaced_lease(name, namespace, body=client.V1DeleteOptions(
            preconditions=client.V1Preconditions(resource_version=lease.metadata.resource_version)))
    except ApiException as err:
        if err.status in (404, 409):
            return False
        raise
    return True


def _now() -> datetime.datetime:
    # MicroTime: the API wants microseconds and a zone.
    return datetime.datetime.now(datetime.UTC)
