"""Someone else's ServiceEntry that already opens the run's host: the tests that expect that
host blocked are "not run" with the object named (exit 4), never a false "failed", and the
report lists it as a finding. The object is left exactly as it was."""

import pytest
import yaml

from egress_conformance.cluster import kube
from tests.cluster import snapshot
from tests.cluster.conftest import cli
from tests.cluster.test_existing_provider import run_args

OTHER_TEAM = "egress-conformance-other-team"


@pytest.fixture
def others_service_entry(api):
    """A team's namespace with a ServiceEntry for httpbin.org exported to every namespace."""
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": OTHER_TEAM}}
    entry = {"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
             "metadata": {"name": "httpbin", "namespace": OTHER_TEAM},
             "spec": {"hosts": ["httpbin.org"], "location": "MESH_EXTERNAL", "resolution": "DNS",
                      "ports": [{"number": 80, "name": "http", "protocol": "HTTP"}]}}
    kube.create(api, namespace)
    try:
        kube.create(api, entry)
        yield entry
    finally:
        kube.delete_and_wait(api, namespace)


def test_a_host_someone_already_opens_makes_the_walkthrough_not_run_with_the_object_named(
        kubeconfig, api, images, tmp_path, own_journals, others_service_entry):
    before = snapshot.take(api)
    result = cli(*run_args(kubeconfig, images, tmp_path / "report", "--run-test", "core-egress-in-namespace"))
    assert result.returncode == 4, result.stdout[-4000:] + result.stderr[-2000:]
    document = yaml.safe_load((tmp_path / "report" / "report.yaml").read_text())
    [test] = [t for p in document["profiles"] for t in p["tests"] if t["name"] == "core-egress-in-namespace"]
    named = f"ServiceEntry {OTHER_TEAM}/httpbin exports httpbin.org to every namespace"
    assert test["result"] == "not-run" and named in test["reason"], test
    assert named in document["findings"] and document["result"] == "not run"
    assert snapshot.differences(before, snapshot.take(api)) == []
    assert kube.get(api, others_service_entry)["spec"]["hosts"] == ["httpbin.org"]
