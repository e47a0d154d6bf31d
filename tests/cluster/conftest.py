"""Tests of the existing-cluster provider against a real cluster it did not create: the
single-node cluster that `ci/node up` builds here (kubelet, containerd, istiod injecting
sidecars), or any cluster named by $EGRESS_CLUSTER_KUBECONFIG.

Under CI (CI=true) a missing cluster fails these tests with the reason; elsewhere they
are skipped with it. They are slow: `ci/selftest` runs them only when asked (`-m cluster`
is what `.ci/run` passes after bringing the node up)."""

import contextlib
import os
import pathlib
import subprocess
import sys

import pytest

from egress_conformance.cluster import kube

ROOT = pathlib.Path(__file__).resolve().parents[2]
NODE_KUBECONFIG = pathlib.Path("/var/lib/egress-node/kubeconfig")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/cluster" in str(item.fspath):
            item.add_marker(pytest.mark.cluster)


def _kubeconfig() -> pathlib.Path | None:
    configured = os.environ.get("EGRESS_CLUSTER_KUBECONFIG")
    path = pathlib.Path(configured) if configured else NODE_KUBECONFIG
    return path if path.is_file() else None


@pytest.fixture(scope="session")
def kubeconfig() -> pathlib.Path:
    path = _kubeconfig()
    if path is None:
        reason = ("no cluster: run `ci/node up` (or set EGRESS_CLUSTER_KUBECONFIG) before the cluster tests")
        if os.environ.get("CI") == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def api(kubeconfig):
    return kube.connect(kubeconfig)


@pytest.fixture(scope="session")
def images() -> dict:
    """--client-image and --external-image for the node's pinned local images."""
    from egress_testbed import images

    return {"client": images.NAMES["curl"], "external": images.NAMES["httpbin"]}


@pytest.fixture
def own_journals(tmp_path, monkeypatch):
    monkeypatch.setenv("EGRESS_CONFORMANCE_STATE", str(tmp_path / "state"))
    return tmp_path / "state"


def cli(*args: str, env=None, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "egress_conformance.cli", *args], cwd=ROOT, capture_output=True,
                          text=True, env=env or os.environ, timeout=timeout)


@contextlib.contextmanager
def existing_objects(api, *objects: dict):
    """Someone's objects (a broken mesh's shape) for the length of a test: created in order,
    deleted newest first and waited gone, whatever the test did."""
    made = []
    try:
        for obj in objects:
            kube.create(api, obj)
            made.append(obj)
        yield objects
    finally:
        for obj in reversed(made):
            kube.delete_and_wait(api, obj)
