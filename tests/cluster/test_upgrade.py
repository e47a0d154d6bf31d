"""The upgrade check, the suite's headline use, with two Istio builds on a real cluster: the
older build (versions.ISTIO_RELEASES["1.30"], master of April 2026) as revision `from-1-30`
beside the node's default (1.31). The suite runs on each (its namespace labelled for the
revision), then `egress-conformance diff` between the two reports prints what changed per
step and finds no regression. Both control planes run side by side, as in a revision-based
(canary) upgrade; the older one is the one added because the node comes up with the newer."""

import pytest
import yaml

from egress_conformance import versions
from tests.cluster import snapshot
from tests.cluster.conftest import cli
from tests.cluster.test_existing_provider import run_args

FROM, TO = versions.istio("1.30"), versions.istio()
REVISION = "from-1-30"


@pytest.fixture
def older_revision(kubeconfig):
    """istiod of the older build under its own revision, removed at the end."""
    from egress_testbed.node import istio

    istio.install(kubeconfig, revision=REVISION, release=FROM)
    yield
    istio.uninstall(kubeconfig, revision=REVISION, release=FROM)


def test_an_upgrade_between_two_istio_builds_shows_every_step_and_no_regression(kubeconfig, api, images, tmp_path,
                                                                                own_journals, older_revision):
    before = snapshot.take(api)
    reports = {FROM: tmp_path / "from", TO: tmp_path / "to"}
    for release, revision in ((FROM, ("--revision", REVISION)), (TO, ())):
        result = cli(*run_args(kubeconfig, images, reports[release], "--allow-mesh-wide-changes", *revision))
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
        document = yaml.safe_load((reports[release] / "report.yaml").read_text())
        assert document["mesh"]["istioVersion"] == release.label and document["result"] == "success"
    assert snapshot.differences(before, snapshot.take(api)) == []

    diff = cli("diff", str(reports[FROM] / "report.yaml"), str(reports[TO] / "report.yaml"))
    assert diff.returncode == 0, diff.stdout + diff.stderr
    assert f"Istio {FROM.label} -> {TO.label}" in diff.stdout and f"revision {REVISION} -> " in diff.stdout
    assert diff.stdout.rstrip().endswith("0 regressions")
    # every step of one build lines up with the same step of the other (mesh configs differ by revision)
    assert ": gone (was" not in diff.stdout and ": new (" not in diff.stdout, diff.stdout
    print(diff.stdout)
