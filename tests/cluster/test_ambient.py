"""The walkthrough in an ambient namespace on a real cluster with ztunnel (`ci/node ambient up`):
REGISTRY_ONLY set mesh-wide does not restrict an ambient pod, so the run fails at "blocked",
naming ztunnel's evidence (its passthrough counter and access log), never "not supported" and
never a pass. Without ztunnel the namespace is "not supported", saying why."""

import json
import pathlib
import secrets
import time

import pytest
from kubernetes import client

from egress_conformance.cluster import ztunnel
from tests.cluster.conftest import cli

pytestmark = pytest.mark.ambient


@pytest.fixture
def ambient_namespace(api):
    core = client.CoreV1Api(api)
    name = f"ec-ambient-{secrets.token_hex(3)}"
    core.create_namespace({"metadata": {"name": name, "labels": {"istio.io/dataplane-mode": "ambient"}}})
    try:
        yield name
    finally:
        core.delete_namespace(name)


LEASE_WAIT_SECONDS = 900.0
"""How long a run refused by another run's live mesh Lease (a shared node) is tried again."""


def _run(kubeconfig, images, namespace: str, report: pathlib.Path):
    """The walkthrough, tried again while another run holds the mesh Lease (said in its refusal)."""
    deadline = time.monotonic() + LEASE_WAIT_SECONDS
    while True:
        result = _run_once(kubeconfig, images, namespace, report)
        if result.returncode != 4 or "holds Lease" not in result.stdout or time.monotonic() > deadline:
            return result
        time.sleep(10)


def _run_once(kubeconfig, images, namespace: str, report: pathlib.Path):
    return cli("run", "--provider", "existing", "--kubeconfig", str(kubeconfig), "--external", "simulated",
               "--client-image", images["client"], "--external-image", images["external"], "--test-namespace",
               namespace, "--allow-mesh-wide-changes", "--run-test", "core-egress", "--report-dir", str(report))


def _steps(report: pathlib.Path) -> list[dict]:
    [profile] = json.loads((report / "report.json").read_text())["profiles"]
    [test] = profile["tests"]
    return test["steps"]


def test_registry_only_fails_at_blocked_with_ztunnels_passthrough(api, kubeconfig, images, ambient_namespace,
                                                                  tmp_path, own_journals):
    if ztunnel.find(api) is None:
        pytest.fail("no ztunnel runs on the cluster: run `ci/node ambient up` first", pytrace=False)
    result = _run(kubeconfig, images, ambient_namespace, tmp_path / "report")
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-2000:]
    steps = {step["step"]: step for step in _steps(tmp_path / "report")}
    assert steps["0 baseline"]["verdict"] == "passed", steps["0 baseline"]
    assert "through ztunnel" in steps["0 baseline"]["evidence"]
    blocked = steps["1+2 restricted: HTTP blocked"]
    assert blocked["verdict"] == "failed"
    assert blocked["detail"].startswith("not blocked: the host answered 200 and ztunnel passed the connection")
    assert 'istio_tcp_connections_opened_total{destination_service="unknown"} +' in blocked["detail"]
    assert "connection complete" in blocked["detail"] and "dst.addr=" in blocked["detail"]
    assert "istio/istio#54281" in blocked["detail"]
