"""Evidence collection never aborts on one missing piece: each is collected on its own, and
one that cannot be is a line in the evidence folder (on the fake mesh: no cluster needed)."""

import tempfile

import pytest

from egress_conformance import scenarios
from egress_conformance.changes import cleanup
from egress_conformance.changes.journal import Journal
from egress_conformance.framework.handle import EgressTest
from egress_conformance.hosts import targets
from egress_conformance.timing import Timing
from egress_conformance.verdicts import evidence
from tests import fakemesh


@pytest.fixture(autouse=True)
def discovery_cache_in_the_tests_own_directory(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))


def test_a_piece_that_cannot_be_collected_is_a_line_and_the_others_are_still_written(tmp_path):
    provider = fakemesh.provider(targets.from_options({}, scenarios.allow_list.DEFAULT_LIST))

    def logs():
        raise RuntimeError("istiod's pod is gone\nand more")

    provider.logs = logs  # the provider's logs are read before the pieces: they must not end the collection
    t = EgressTest(provider, cleanup.Stack(), Timing(), Journal(provider.cluster(), tmp_path / "journal.json"))
    written = evidence.collect(t, tmp_path / "evidence")
    assert {"stats.txt", "mesh-config.yaml", "istio-objects.yaml", "steps.json", evidence.MISSING} <= set(written)
    assert (tmp_path / "evidence" / "mesh-config.yaml").read_text() == fakemesh.MESH_TEXT
    missing = (tmp_path / "evidence" / evidence.MISSING).read_text().splitlines()
    # The fake does not model the whole config dump nor events: each is one line, as the logs are.
    assert "could not collect the provider's logs: RuntimeError: istiod's pod is gone" in missing
    assert any(line.startswith("could not collect config_dump.json: NotModelled") for line in missing)
    assert (tmp_path / "evidence" / "config_dump.json").read_text().startswith("could not collect config_dump.json")
