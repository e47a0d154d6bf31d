"""The run lock on a cluster the suite did not create: a coordination.k8s.io/v1 Lease, held
and renewed while the run lives, so that runs from different machines (CI runners, the
in-cluster Job) never change the same thing at once. A Lease not renewed within its
duration belongs to a dead run: ``restore`` may take its journal, and a new run takes the
Lease over once nothing of that run is left to restore.
"""

import dataclasses
import datetime
import logging
import threading

from kubernetes import client
from kubernetes.client.exceptions import ApiException

log = logging.getLogger("egress")

DURATION_SECONDS = 15
"""How long a Lease outlives its last renewal; renewed three times as often."""

JOURNAL_ANNOTATION = "egress-conformance.dev/journal"
"""On the Lease: where the holder's journal is in the cluster (namespace/ConfigMap)."""

LABEL = "egress-conformance.dev/lease"


class Busy(Exception):
    """Another run, alive, holds the Lease; str(err) names it."""


@dataclasses.dataclass(frozen=True)
class Holder:
    """Who holds a Lease and whether it is still alive."""

    identity: str
    renewed: datetime.datetime | None
    journal: str | None
    """namespace/name of the holder's journal ConfigMap, if it said."""

    def alive(self, now: datetime.datetime | None = None) -> bool:
        now = now or datetime.datetime.now(datetime.UTC)
        return self.renewed is not None and (now - self.renewed).total_seconds() < DURATION_SECONDS

    def describe(self) -> str:
        ago = (datetime.datetime.now(datetime.UTC) - self.renewed).total_seconds() if self.renewed else None
        return f"run {self.identity}" + (f", renewed {ago:.0f}s ago" if ago is not None else "")


def holder_of(lease) -> Holder:
    spec, annotations = lease.spec, lease.metadata.annotations or {}
    return Holder(spec.holder_identity or "", spec.renew_time or spec.acquire_time, annotations.get(JOURNAL_ANNOTATION))


class RunLease:
    """One Lease the run holds from ``acquire`` to ``release``, renewed in the background."""

    def __init__(self, api: client.ApiClient, namespace: str, name: str, identity: str, journal: str):
        self.coordination = client.CoordinationV1Api(api)
        self.namespace, self.name, self.identity, self.journal = namespace, name, identity, journal
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    @property
    def where(self) -> str:
        return f"Lease {self.namespace}/{self.name}"

    def acquire(self, may_take_over) -> None:
        """Create the Lease, or take over one whose holder is dead and for which
        ``may_take_over(holder)`` says nothing is left to restore. Raises Busy, naming the
        holder, when a live run holds it (or a dead one left changes)."""
        try:
            self.coordination.create_namespaced_lease(self.namespace, self._body())
        except ApiException as err:
            if err.status != 409:
                raise
            lease = self.coordination.read_namespaced_lease(self.name, self.namespace)
            holder = holder_of(lease)
            if holder.alive():
                raise Busy(f"another run holds {self.where} ({holder.describe()}): it is changing the same "
                           "thing now; wait for it to end") from None
            refusal = may_take_over(holder)
            if refusal:
                raise Busy(refusal) from None
            log.info("taking over %s from %s (expired)", self.where, holder.describe())
            # The resourceVersion read makes the replace conditional: two runs taking over at
            # once, one gets 409.
            body = self._body(resource_version=lease.metadata.resource_version)
            try:
                self.coordination.replace_namespaced_lease(self.name, self.namespace, body)
            except ApiException as race:
                if race.status == 409:
                    raise Busy(f"another run took over {self.where} at the same moment; wait for it to end") \
                        from None
                raise
        self._renewer = threading.Thread(target=self._renew, name=f"renew {self.where}", daemon=True)
        self._renewer.start()

    def release(self) -> None:
        """Stop renewing and delete the Lease (only while it is still ours)."""
        self._stop.set()
        if self._renewer:
            self._renewer.join(timeout=DURATION_SECONDS)
        try:
            lease = self.coordination.read_namespaced_lease(self.name, self.namespace)
        except ApiException as err:
            if err.status == 404:
                return
            raise
        if lease.spec.holder_identity == self.identity:
            self.coordination.delete_namespaced_lease(
                self.name, self.namespace, body=client.V1DeleteOptions(
                    preconditions=client.V1Preconditions(resource_version=lease.metadata.resource_version)))

    def _renew(self) -> None:
        while not self._stop.wait(DURATION_SECONDS / 3):
            try:
                self.coordination.patch_namespaced_lease(
                    self.name, self.namespace, {"spec": {"renewTime": _now()}})
            except Exception as err:  # a missed renewal is retried; the run's own calls report a dead API
                log.warning("could not renew %s: %s", self.where, str(err).splitlines()[0][:200])

    def _body(self, resource_version: str | None = None) -> client.V1Lease:
        now = _now()
        return client.V1Lease(
            metadata=client.V1ObjectMeta(name=self.name, namespace=self.namespace, labels={LABEL: "true"},
                                         annotations={JOURNAL_ANNOTATION: self.journal},
                                         resource_version=resource_version),
            spec=client.V1LeaseSpec(holder_identity=self.identity, lease_duration_seconds=DURATION_SECONDS,
                                    acquire_time=now, renew_time=now))


def read(api: client.ApiClient, namespace: str, name: str) -> Holder | None:
    """The holder of a Lease, or None when there is none."""
    try:
        return holder_of(client.CoordinationV1Api(api).read_namespaced_lease(name, namespace))
    except ApiException as err:
        if err.status == 404:
            return None
        raise


def free(api: client.ApiClient, namespace: str, name: str, identity: str) -> bool:
    """Remove the Lease of run ``identity``, which the caller knows is dead (restore's last
    step); another run's Lease stays."""
    holder = read(api, namespace, name)
    if holder is None or holder.identity != identity:
        return False
    client.CoordinationV1Api(api).delete_namespaced_lease(name, namespace)
    return True


def _now() -> datetime.datetime:
    # MicroTime: the API wants microseconds and a zone.
    return datetime.datetime.now(datetime.UTC)
