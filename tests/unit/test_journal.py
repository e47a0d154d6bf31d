import json

from egress_conformance import journal


def test_an_entry_is_on_disk_before_the_change_and_gone_once_settled(tmp_path, monkeypatch):
    monkeypatch.setenv("EGRESS_CONFORMANCE_STATE", str(tmp_path))
    j = journal.Journal({"provider": "local", "server": "https://127.0.0.1:1"})
    entry = j.mesh_config_changing(("istio-system", "istio"), "original: text\n", "written: text\n")
    created = j.object_creating({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "n"}})
    on_disk = json.loads(j.path.read_text())
    assert [e["kind"] for e in on_disk["entries"]] == ["mesh-config", "created"]
    assert on_disk["entries"][0]["original"] == "original: text\n"
    assert [p.path for p in journal.pending()] == [j.path]
    assert "mesh config istio-system/istio changed, ConfigMap n/x created" in journal.describe(journal.pending()[0])
    j.settle(created)
    j.settle(entry)
    assert not j.path.exists() and journal.pending() == []
