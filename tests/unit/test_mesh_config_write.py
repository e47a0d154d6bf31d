"""The forward mesh-config write carries the resourceVersion that was read: a colleague's edit
landing between the read and the write is never overwritten (and so never lost by the
restore that would later write back the pre-edit text); the test is "not run", with the reason."""

import pytest

from egress_conformance import scenarios
from egress_conformance.changes import cleanup
from egress_conformance.changes.journal import Journal
from egress_conformance.cluster import meshconfig
from egress_conformance.framework import scope
from egress_conformance.hosts import targets
from egress_conformance.verdicts import classify
from tests import fakemesh

COLLEAGUE = "accessLogFile: /dev/stdout  # a colleague's edit\n"


@pytest.fixture
def mesh(tmp_path, monkeypatch):
    monkeypatch.setenv("EGRESS_CONFORMANCE_STATE", str(tmp_path))
    provider = fakemesh.provider(targets.from_options({}, scenarios.allow_list.DEFAULT_LIST))
    run_journal = Journal(provider.cluster(), tmp_path / "journal.json")
    return provider, run_journal


def test_an_edit_between_the_read_and_the_write_is_kept_and_the_test_is_not_run(mesh, monkeypatch):
    provider, run_journal = mesh
    api, where = provider.api(), provider.mesh_config_map()
    computed = meshconfig.with_policy

    def edited_meanwhile(text, policy):
        meshconfig.write(api, where, COLLEAGUE)  # lands after the run's read, before its write
        return computed(text, policy)

    monkeypatch.setattr(meshconfig, "with_policy", edited_meanwhile)
    undo = cleanup.Stack()
    with pytest.raises(Exception) as raised:
        scope.MeshWide(api, where, run_journal, undo).set_policy(meshconfig.REGISTRY_ONLY)
    assert provider.server.mesh_text() == COLLEAGUE  # never overwritten
    assert run_journal.entries == [] and undo.pending() == []  # nothing to restore over it either
    outcome = classify.of_error(raised.value, str(raised.value), interrupted=False)
    assert outcome.kind == classify.Kind.REFUSED
    assert f"mesh config {where[0]}/{where[1]} changed between the run's read and its write" in outcome.reason


def test_without_an_edit_the_write_goes_through_and_is_undone(mesh):
    provider, run_journal = mesh
    undo = cleanup.Stack()
    original = provider.server.mesh_text()
    scope.MeshWide(provider.api(), provider.mesh_config_map(), run_journal, undo).set_policy(meshconfig.REGISTRY_ONLY)
    assert meshconfig.policy_of(provider.server.mesh_text()) == meshconfig.REGISTRY_ONLY
    undo.close()
    assert provider.server.mesh_text() == original and run_journal.entries == []
