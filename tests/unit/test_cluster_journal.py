"""The journal's copy in the cluster, as pure logic: the copy is written before the local file
and removed once nothing is left (the Lease's fencing: test_lease.py)."""

import json

import pytest

from egress_conformance.changes import journal


class Sink:
    where = "ns/egress-conformance-journal-x"

    def __init__(self, fail: bool = False):
        self.written, self.removed, self.fail = [], 0, fail

    def write(self, data: dict) -> None:
        if self.fail:
            raise PermissionError("configmaps is forbidden")
        self.written.append(json.loads(json.dumps(data)))

    def remove(self) -> None:
        self.removed += 1


@pytest.fixture(autouse=True)
def own_state(tmp_path, monkeypatch):
    monkeypatch.setenv("EGRESS_CONFORMANCE_STATE", str(tmp_path))


def test_the_clusters_copy_holds_every_entry_and_goes_when_the_last_is_settled():
    j, sink = journal.Journal({"provider": "existing", "server": "https://node:6443"}), Sink()
    namespace = j.object_creating({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns"}})
    j.mirror(sink)  # what the journal held already is in the cluster at once
    assert [e["type"] for e in sink.written[-1]["entries"]] == ["created"]
    assert sink.written[-1]["run"] == j.run_id and sink.written[-1]["mirror"] == sink.where
    change = j.mesh_config_changing(("istio-system", "istio"), "a: 1\n", "a: 1\noutboundTrafficPolicy: {}\n")
    assert [e["type"] for e in sink.written[-1]["entries"]] == ["created", "mesh-config"]
    j.settle(change)
    j.settle(namespace)
    assert sink.removed == 1 and not j.path.exists()


def test_a_change_is_not_journaled_when_the_cluster_refuses_its_copy():
    j = journal.Journal({"provider": "existing", "server": "https://node:6443"})
    j.mirror(Sink(fail=True))  # nothing to write yet
    with pytest.raises(PermissionError):
        j.mesh_config_changing(("istio-system", "istio"), "a: 1\n", "b: 2\n")
    assert not j.path.exists()  # the caller stops before the change


def test_a_journal_kept_in_the_cluster_loads_and_a_broken_one_is_refused_in_one_line():
    sink = Sink()
    data = {"cluster": {"provider": "existing", "server": "s"}, "run": "r1", "entries": [
        {"type": "mesh-config", "namespace": "istio-system", "name": "istio", "original": "x", "id": "1"}]}
    kept = journal.Journal.from_cluster(sink, data)
    assert kept.run_id == "r1" and kept.path is None and kept.name == f"ConfigMap {sink.where}"
    with pytest.raises(journal.JournalError, match=f"then delete ConfigMap {sink.where}"):
        journal.Journal.from_cluster(sink, {"cluster": {}, "entries": [{"type": "created"}]})

