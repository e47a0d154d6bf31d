"""Before its first change a run on a shared cluster looks for journals other runs left there:
one whose run renews none of its Leases holds changes nobody will undo, and stops the run."""

import pytest

from egress_conformance.changes import cluster_journal, lease
from egress_conformance.changes.journal import ClusterBusy
from egress_conformance.providers.existing import hold

LEFT = {"cluster": {"provider": "existing", "server": "https://node:6443"}, "run": "20261207-dead", "started": "x",
        "leases": [["team", "egress-conformance"]],
        "entries": [{"type": "created", "id": "1", "object": {"apiVersion": "v1", "kind": "ConfigMap",
                                                             "metadata": {"name": "x", "namespace": "team"}}}]}


class Sink:
    where = "team/egress-conformance-journal-20261207-dead"

    def write(self, data):
        pass

    def remove(self):
        pass


@pytest.fixture
def kept(monkeypatch):
    monkeypatch.setattr(cluster_journal, "found", lambda api, namespace=None: [(Sink(), LEFT)])
    monkeypatch.setattr(cluster_journal, "_still_holds_entries", lambda api, where: True)


def test_a_journal_whose_run_renews_no_lease_stops_the_next_run(kept, monkeypatch):
    monkeypatch.setattr(cluster_journal, "live_holders", lambda api, journals: [[] for _ in journals])
    with pytest.raises(ClusterBusy, match="an earlier run left changes unrestored in the cluster .ConfigMap "
                                          "team/egress-conformance-journal-20261207-dead.*ConfigMap team/x created"):
        hold.unrestored(None, None)


def test_a_journal_of_a_run_still_renewing_its_lease_is_its_own(kept, monkeypatch):
    alive = lease.Holder("20261207-dead", None, None)
    monkeypatch.setattr(cluster_journal, "live_holders",
                        lambda api, journals: [[("team/egress-conformance", alive)] for _ in journals])
    hold.unrestored(None, None)  # another run, going on: no refusal


def test_a_journal_removed_while_its_leases_were_watched_was_its_runs_end(kept, monkeypatch):
    monkeypatch.setattr(cluster_journal, "live_holders", lambda api, journals: [[] for _ in journals])
    monkeypatch.setattr(cluster_journal, "_still_holds_entries", lambda api, where: False)
    hold.unrestored(None, None)  # the run ended meanwhile (its namespace, journal and Lease went together)
