import json

from egress_conformance.changes import journal


def test_an_entry_is_on_disk_before_the_change_and_gone_once_settled(tmp_path, monkeypatch):
    monkeypatch.setenv("EGRESS_CONFORMANCE_STATE", str(tmp_path))
    j = journal.Journal({"provider": "local", "server": "https://127.0.0.1:1"})
    entry = j.mesh_config_changing(("istio-system", "istio"), "original: text\n", "written: text\n")
    created = j.object_creating({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "n"}})
    on_disk = json.loads(j.path.read_text())
    assert [e["type"] for e in on_disk["entries"]] == ["mesh-config", "created"]
    assert on_disk["entries"][0]["original"] == "original: text\n"
    assert [p.path for p in journal.pending()] == [j.path]
    assert "mesh config istio-system/istio changed, ConfigMap n/x created" in journal.describe(journal.pending()[0])
    j.settle(created)
    j.settle(entry)
    assert not j.path.exists() and journal.pending() == []


def test_a_live_runs_journal_is_its_own_and_its_cluster_is_busy(tmp_path, monkeypatch):
    import subprocess

    import pytest

    monkeypatch.setenv("EGRESS_CONFORMANCE_STATE", str(tmp_path))
    other = subprocess.Popen(["sleep", "60"])
    try:
        theirs = journal.Journal({"provider": "existing", "server": "https://node:6443"})
        theirs.data.update(pid=other.pid, pidStart=journal._start_ticks(other.pid))
        theirs.object_creating({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "n"}})
        assert journal.pending() == [] and [j.path for j in journal.running()] == [theirs.path]
        with pytest.raises(journal.ClusterBusy, match=f"another run \\(pid {other.pid}.*https://node:6443"):
            journal.Journal().bind({"provider": "existing", "server": "https://node:6443"})
        journal.Journal().bind({"provider": "local", "server": "https://127.0.0.1:1"})  # another cluster: fine
    finally:
        other.kill()
        other.wait()
    assert [j.path for j in journal.pending()] == [theirs.path] and journal.running() == []


def test_a_journal_of_hundreds_of_entries_is_described_in_one_short_line(tmp_path, monkeypatch):
    monkeypatch.setenv("EGRESS_CONFORMANCE_STATE", str(tmp_path))
    j = journal.Journal({"provider": "local", "server": "https://127.0.0.1:1"})
    for n in range(500):
        j.object_creating({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"x{n}", "namespace": "n"}})
    line = journal.describe(j)
    assert "ConfigMap n/x3 created and 496 more" in line and len(line) < 400
