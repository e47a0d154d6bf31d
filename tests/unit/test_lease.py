"""The Lease fences the way client-go's leader election does, on a fake Lease API with the
API server's resourceVersion rules and a clock of the test's own: a holder is alive while its
Lease changes as we watch (never by comparing its renewTime with our clock), renewals and
deletes are conditional, and a run that lost its Lease learns it."""

import copy
import datetime

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from egress_conformance.changes import lease


class FakeLeases:
    """CoordinationV1Api's Lease calls on one dict, with optimistic concurrency: a write or delete
    naming another resourceVersion than the stored one is refused with 409."""

    def __init__(self):
        self.stored: dict[tuple[str, str], client.V1Lease] = {}
        self.version = 100
        self.on_read = None

    def _bump(self, body):
        self.version += 1
        body = copy.deepcopy(body)
        body.metadata.resource_version = str(self.version)
        return body

    def create_namespaced_lease(self, namespace, body):
        key = (namespace, body.metadata.name)
        if key in self.stored:
            raise ApiException(status=409, reason="AlreadyExists")
        self.stored[key] = self._bump(body)
        return copy.deepcopy(self.stored[key])

    def read_namespaced_lease(self, name, namespace):
        if self.on_read:
            self.on_read()
        if (namespace, name) not in self.stored:
            raise ApiException(status=404, reason="NotFound")
        return copy.deepcopy(self.stored[(namespace, name)])

    def replace_namespaced_lease(self, name, namespace, body):
        key = (namespace, name)
        if key not in self.stored:
            raise ApiException(status=404, reason="NotFound")
        if body.metadata.resource_version and body.metadata.resource_version != \
                self.stored[key].metadata.resource_version:
            raise ApiException(status=409, reason="Conflict")
        self.stored[key] = self._bump(body)
        return copy.deepcopy(self.stored[key])

    def delete_namespaced_lease(self, name, namespace, body=None):
        key = (namespace, name)
        if key not in self.stored:
            raise ApiException(status=404, reason="NotFound")
        wanted = body.preconditions.resource_version if body and body.preconditions else None
        if wanted and wanted != self.stored[key].metadata.resource_version:
            raise ApiException(status=409, reason="Conflict")
        del self.stored[key]

    def put(self, holder: str, renewed: datetime.datetime, name="egress-conformance", namespace="ns"):
        """Someone else's Lease, its renewTime as that one's clock wrote it."""
        self.stored[(namespace, name)] = self._bump(client.V1Lease(
            metadata=client.V1ObjectMeta(name=name, namespace=namespace),
            spec=client.V1LeaseSpec(holder_identity=holder, lease_duration_seconds=lease.DURATION_SECONDS,
                                    acquire_time=renewed, renew_time=renewed)))

    def renew_by_other(self, name="egress-conformance", namespace="ns"):
        stored = self.stored[(namespace, name)]
        self.stored[(namespace, name)] = self._bump(stored)


class FakeClock:
    """Time that passes only when the code waits."""

    def __init__(self):
        self.t = 0.0
        self.on_pause = None

    def now(self) -> float:
        return self.t

    def pause(self, seconds: float) -> None:
        self.t += seconds
        if self.on_pause:
            self.on_pause()

    @property
    def clock(self) -> lease.Clock:
        return lease.Clock(now=self.now, pause=self.pause)


def run_lease(api: FakeLeases, clock: FakeClock, identity="me", lost=None) -> lease.RunLease:
    return lease.RunLease(None, "ns", "egress-conformance", identity, "ns/journal", coordination=api,
                          clock=clock.clock, on_lost=(lost.append if lost is not None else lambda why: None))


NOW = datetime.datetime.now(datetime.UTC)


def test_a_holder_renewing_while_watched_is_alive_whatever_its_clock_says():
    api, clock = FakeLeases(), FakeClock()
    api.put("other", NOW - datetime.timedelta(hours=1))  # its clock is an hour behind ours
    clock.on_pause = api.renew_by_other  # yet it renews as we watch
    with pytest.raises(lease.Busy, match="another run holds Lease ns/egress-conformance .run other"):
        run_lease(api, clock).acquire(lambda holder: None, renew=False)
    assert api.stored[("ns", "egress-conformance")].spec.holder_identity == "other"


def test_a_holder_not_renewed_for_its_duration_while_watched_is_dead_whatever_its_clock_says():
    api, clock = FakeLeases(), FakeClock()
    api.put("other", NOW + datetime.timedelta(hours=1))  # its clock is ahead: its renewTime looks fresh
    run_lease(api, clock).acquire(lambda holder: None, renew=False)
    assert api.stored[("ns", "egress-conformance")].spec.holder_identity == "me"
    assert clock.t >= lease.DURATION_SECONDS  # judged dead only after watching a whole duration


def test_a_dead_holders_lease_is_not_taken_while_its_journal_holds_changes():
    api, clock = FakeLeases(), FakeClock()
    api.put("other", NOW)
    with pytest.raises(lease.Busy, match="left changes"):
        run_lease(api, clock).acquire(lambda holder: f"run {holder.identity} left changes", renew=False)


def test_a_renewal_after_another_run_took_the_lease_loses_it_and_stops_the_run():
    api, clock, lost = FakeLeases(), FakeClock(), []
    held = run_lease(api, clock, lost=lost)
    held.acquire(lambda holder: None, renew=False)
    api.put("thief", NOW)  # someone took it over (or wrote over it)
    held.check()
    assert lost and "lost the lease" in lost[0] and "run thief" in lost[0]
    assert api.stored[("ns", "egress-conformance")].spec.holder_identity == "thief"  # the renewal wrote nothing
    held.release()
    assert ("ns", "egress-conformance") in api.stored  # not ours to delete


def test_a_renewal_is_conditional_and_a_deleted_lease_is_lost_too():
    api, clock, lost = FakeLeases(), FakeClock(), []
    held = run_lease(api, clock, lost=lost)
    held.acquire(lambda holder: None, renew=False)
    held.check()
    held.check()
    assert not lost
    del api.stored[("ns", "egress-conformance")]
    held.check()
    assert lost and "deleted" in lost[0]
    assert ("ns", "egress-conformance") not in api.stored  # a renewal never creates it again


def test_release_deletes_only_the_version_the_run_wrote_and_keeps_the_lease_while_changes_are_left():
    api, clock = FakeLeases(), FakeClock()
    held = run_lease(api, clock)
    held.acquire(lambda holder: None, renew=False)
    held.release(keep=True)
    assert api.stored[("ns", "egress-conformance")].spec.holder_identity == "me"
    again = run_lease(api, clock, identity="me")
    api.stored.clear()
    again.acquire(lambda holder: None, renew=False)
    api.renew_by_other()  # changed since the run wrote it: no longer the run's to delete
    again.release()
    assert ("ns", "egress-conformance") in api.stored
    third = run_lease(api, clock, identity="third")
    api.stored.clear()
    third.acquire(lambda holder: None, renew=False)
    third.release()
    assert not api.stored


def test_free_deletes_with_a_precondition():
    api = FakeLeases()
    api.put("dead", NOW)
    api.on_read = lambda: None
    # Read, then another run renews it before the delete: it stays.
    original_read = api.read_namespaced_lease

    def read_then_renewed(name, namespace):
        found = original_read(name, namespace)
        api.renew_by_other()
        return found

    api.read_namespaced_lease = read_then_renewed
    assert not lease.free(None, "ns", "egress-conformance", "dead", coordination=api)
    assert ("ns", "egress-conformance") in api.stored
    api.read_namespaced_lease = original_read
    assert not lease.free(None, "ns", "egress-conformance", "someone-else", coordination=api)
    assert lease.free(None, "ns", "egress-conformance", "dead", coordination=api)
    assert not api.stored


def test_several_leases_are_judged_in_one_watch():
    api, clock = FakeLeases(), FakeClock()
    api.put("live", NOW, name="a")
    api.put("dead", NOW, name="b")
    clock.on_pause = lambda: api.renew_by_other(name="a")
    reads = {name: lease.reader(api, "ns", name) for name in ("a", "b", "c")}
    verdicts = lease.observe_all(reads, clock.clock)
    assert verdicts["a"][1] and verdicts["a"][0].identity == "live"
    assert not verdicts["b"][1] and verdicts["b"][0].identity == "dead"
    assert verdicts["c"] == (None, False)
    assert clock.t <= lease.DURATION_SECONDS + lease.POLL_SECONDS
