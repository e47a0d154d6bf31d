"""Restoring never clobbers: a change someone else made to what the run changed stays, the
journal keeps the entry, the conflict names both texts; `restore --force` decides."""

import json
import pathlib
import subprocess

import pytest

from egress_conformance import cli, providers
from egress_conformance.changes import cleanup, journal
from egress_conformance.cluster import kube, meshconfig
from egress_conformance.framework.handle import EgressTest
from egress_conformance.run import options
from egress_conformance.timing import Timing

LOCAL = options.defaults()
"""A default run's options: the local mesh as `egress-conformance run` starts it."""

ROOT = pathlib.Path(__file__).resolve().parents[2]


def restore(capsys, *extra):
    # In this process: the journal is this test's own (another live process's journal is its
    # run's business, and restore leaves it alone).
    code = cli.main(["restore", "--no-sweep", *extra])
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess([], code, out, err)


def test_someone_elses_changes_survive_restore_until_forced(clean_machine, capsys):
    mesh_undo, run_journal = cleanup.Stack(), journal.Journal()
    try:
        provider = providers.create("local", LOCAL.provider_options, LOCAL.targets)
        provider.start(mesh_undo, run_journal)
        api, where = provider.api(), provider.mesh_config_map()
        original = meshconfig.read(api, where)
        t = EgressTest(provider, cleanup.Stack(), Timing(), run_journal)
        t.policy.set(meshconfig.REGISTRY_ONLY)
        entry = {"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
                 "metadata": {"name": "httpbin.org", "namespace": t.namespace},
                 "spec": {"hosts": ["httpbin.org"], "ports": [{"number": 80, "name": "http", "protocol": "HTTP"}],
                          "resolution": "DNS", "location": "MESH_EXTERNAL"}}
        t.resources.create(entry)
        # Someone else edits both while the run holds them.
        theirs = meshconfig.read(api, where) + "# edited by the platform team\n"
        meshconfig.write(api, where, theirs)
        kube.resource(api, entry).patch(name="httpbin.org", namespace=t.namespace, content_type="application/merge-patch+json",
                                        body={"spec": {"hosts": ["httpbin.org", "api.httpbin.org"]}})

        with pytest.raises(cleanup.CleanupFailed) as failed:
            t.context.undo.close()
        message = str(failed.value)
        assert f"mesh config {where[0]}/{where[1]} was changed by someone else" in message
        assert json.dumps(theirs) in message and "restore --force" in message
        assert f"ServiceEntry {t.namespace}/httpbin.org was changed by someone else" in message
        assert meshconfig.read(api, where) == theirs and kube.get(api, entry) is not None
        assert [len(j.entries) for j in journal.pending()] == [2], "the journal keeps both entries"

        plain = restore(capsys)
        assert plain.returncode == 1 and plain.stderr.count("restore conflict:") == 2, plain.stdout + plain.stderr
        assert meshconfig.read(api, where) == theirs and len(journal.pending()) == 1

        forced = restore(capsys, "--force")
        assert forced.returncode == 0, forced.stdout + forced.stderr
        assert meshconfig.read(api, where) == original and kube.get(api, entry) is None
        assert journal.pending() == []
    finally:
        mesh_undo.close()
