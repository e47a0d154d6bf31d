"""deploy/job.yaml for real: the suite's own image built here and imported into the node, the
Job run as its service account with in-cluster configuration, its report read back from the
cluster with the CLI; a Job on a broken namespace ends Failed with the report naming the leak;
a Job whose pod is killed mid-run leaves only what `restore` from outside the cluster undoes."""

import json
import time

import pytest
import yaml
from kubernetes import client

from egress_conformance import scenarios
from egress_conformance.changes import cluster_journal, lease
from egress_conformance.cluster import kube
from egress_conformance.framework import scope
from egress_conformance.hosts import allowlist, targets
from tests.cluster import jobs
from tests.cluster.conftest import cli
from tests.cluster.test_test_namespace import contents, filled_in

JOB_TIMEOUT = 600
"""Seconds a Job may take to end (core + extended, namespace-scoped, takes ~40 s on the node)."""
MID_RUN = 4
"""Changes the run has journaled when it is killed: the Telemetry, the simulated host's objects, ..."""


@pytest.fixture(scope="session")
def suite_image(kubeconfig) -> str:
    """The suite's image built from this checkout (cached by content) and imported into the node."""
    from egress_testbed.node import lifecycle

    started = time.monotonic()
    name = lifecycle.suite_image()
    print(f"suite image {name}: built (or cached) and imported in {time.monotonic() - started:.1f}s")
    return name


@pytest.fixture
def deployed(api, suite_image):
    with jobs.applied(api, suite_image) as objects:
        yield objects


def args_of(deployed: jobs.Deployed, images: dict, command: str = "") -> list[str]:
    """The Job's own arguments with the air-gapped cluster's additions (no httpbin.org, no Docker Hub)."""
    given = list(deployed.job["spec"]["template"]["spec"]["containers"][0]["args"])
    if command:  # another subcommand (audit), which names its own profile
        given[0] = command
        while "--profile" in given:
            del given[given.index("--profile"):given.index("--profile") + 2]
    return [*given, "--external", "simulated", "--client-image", images["client"],
            "--external-image", images["external"]]


def read_back(kubeconfig, namespace: str, *extra: str):
    return cli("report", f"cluster:{namespace}/{jobs.REPORT}", "--kubeconfig", str(kubeconfig), *extra)


def test_the_job_runs_in_cluster_and_its_report_is_read_back_from_the_cluster(kubeconfig, api, images, deployed,
                                                                               tmp_path):
    before = filled_in(api, deployed.test_namespace)
    started = time.monotonic()
    job = jobs.run(api, deployed.job, args_of(deployed, images))
    state, _ = jobs.ended(api, job, JOB_TIMEOUT)
    print(f"Job wall time (created to Complete/Failed): {time.monotonic() - started:.1f}s")
    log = jobs.log(api, deployed.runner, job["metadata"]["name"])
    assert state == "Complete", log[-4000:]
    pod = jobs.pod_of(api, deployed.runner, job["metadata"]["name"])
    assert pod.spec.service_account_name == "egress-conformance" and jobs.exit_code(
        api, deployed.runner, job["metadata"]["name"]) == 0
    assert f"report stored in ConfigMap {deployed.runner}/{jobs.REPORT}" in log

    shown = read_back(kubeconfig, deployed.runner)
    assert shown.returncode == 0, shown.stdout[-3000:] + shown.stderr[-2000:]
    summary = read_back(kubeconfig, deployed.runner, "--format", "markdown")
    assert summary.returncode == 0 and "Egress conformance: SUCCESS" in summary.stdout, summary.stdout[-2000:]
    stored = json.loads(_report_bytes(api, deployed.runner))
    assert stored["result"] == "success" and stored["claim"] == {"scopes": ["namespace"]}, stored["claim"]
    assert stored["mesh"]["cluster"] == "in-cluster", stored["mesh"]
    assert contents(api, deployed.test_namespace) == before

    compared = cli("diff", f"cluster:{deployed.runner}/{jobs.REPORT}", f"cluster:{deployed.runner}/{jobs.REPORT}",
                   "--kubeconfig", str(kubeconfig))
    assert compared.returncode == 0, compared.stdout[-2000:] + compared.stderr[-2000:]


def test_a_job_on_a_broken_namespace_fails_and_its_report_names_the_leak(kubeconfig, api, images, deployed):
    team = deployed.test_namespace
    _keep_the_teams_egress(api, team)
    # The catalogue's wildcard-resolution-none shape, kept to this namespace (exportTo ".") on a shared node.
    shape = next(s for s in scenarios.broken_meshes.load() if s.name == "wildcard-resolution-none")
    wildcard, = shape.manifests(shared=team, root="istio-system")
    wildcard["spec"]["exportTo"] = ["."]
    kube.create(api, wildcard)

    job = jobs.run(api, deployed.job, args_of(deployed, images, "audit"))
    state, _ = jobs.ended(api, job, JOB_TIMEOUT)
    log = jobs.log(api, deployed.runner, job["metadata"]["name"])
    assert state == "Failed" and jobs.exit_code(api, deployed.runner, job["metadata"]["name"]) == 1, log[-4000:]
    named = f"outbound|443||*.com: ServiceEntry {team}/wildcard-com (resolution NONE)"
    shown = read_back(kubeconfig, deployed.runner)
    assert shown.returncode == 1, shown.stdout[-3000:] + shown.stderr[-2000:]
    assert named in shown.stdout, shown.stdout[-3000:]
    assert json.loads(_report_bytes(api, deployed.runner))["result"] == "failure"


@pytest.mark.parametrize("kill", ["pod deleted", "SIGKILL"])
def test_a_job_killed_mid_run_leaves_only_what_restore_from_outside_undoes(kubeconfig, api, images, deployed,
                                                                           own_journals, kill):
    """"pod deleted" is `kubectl delete pod`: SIGTERM, the run undoes its changes within the
    grace period. "SIGKILL" is the OOM killer or a lost node: the run gets no say, its journal
    in the test namespace is all there is, and `restore` from outside the cluster undoes it."""
    before = filled_in(api, deployed.test_namespace)
    job = jobs.run(api, deployed.job, args_of(deployed, images))
    journal = _journal_kept_in(api, deployed.test_namespace, timeout=JOB_TIMEOUT)
    pod = jobs.pod_of(api, deployed.runner, job["metadata"]["name"])
    if kill == "pod deleted":
        client.CoreV1Api(api).delete_namespaced_pod(pod.metadata.name, deployed.runner)
    else:
        _sigkill(pod)
    state, _ = jobs.ended(api, job, JOB_TIMEOUT)
    assert state == "Failed", jobs.pod_state(api, deployed.runner, job["metadata"]["name"])
    _lease_expired(api, journal, timeout=120)
    if kill == "SIGKILL":
        _the_next_job_refuses_to_start_over(api, deployed, images, journal)

    restored = cli("restore", "--kubeconfig", str(kubeconfig), "--test-namespace", deployed.test_namespace,
                   "--no-sweep")
    assert restored.returncode == 0, restored.stdout[-3000:] + restored.stderr[-2000:]
    print(f"restore after {kill}:\n{restored.stdout}")
    if kill == "SIGKILL":
        assert restored.stdout.count("  deleted ") >= MID_RUN and "freed Lease" in restored.stdout, restored.stdout
    assert contents(api, deployed.test_namespace) == before
    assert cluster_journal.found(api, deployed.test_namespace) == []
    # A run cut short never leaves a passing report (the earlier one was removed when it started).
    left = None if _report_missing(api, deployed.runner) else json.loads(_report_bytes(api, deployed.runner))
    print(f"report left by the run after {kill}: {left and left['result']}")
    assert left is None or left["result"] != "success"


def _the_next_job_refuses_to_start_over(api, deployed: jobs.Deployed, images: dict, journal: dict) -> None:
    following = yaml.safe_load(yaml.safe_dump(deployed.job))
    following["metadata"]["name"] = "egress-conformance-next"
    job = jobs.run(api, following, args_of(deployed, images))
    state, _ = jobs.ended(api, job, JOB_TIMEOUT)
    log = jobs.log(api, deployed.runner, job["metadata"]["name"])
    assert state == "Failed" and jobs.exit_code(api, deployed.runner, job["metadata"]["name"]) == 4, log[-3000:]
    # Every run looks for unrestored journals before its first change, and names the dead run's.
    assert "an earlier run left changes unrestored in the cluster" in log, log[-3000:]
    assert f"egress-conformance-journal-{journal['run']}" in log and "restore --kubeconfig" in log, log[-3000:]


def _sigkill(pod) -> None:
    """SIGKILL the run's container through the node's containerd, as the OOM killer would."""
    from egress_testbed.node import builds, runtime

    container = pod.status.container_statuses[0].container_id.removeprefix("containerd://")
    result = runtime.ctr(builds.cached(), "tasks", "kill", "--signal", "SIGKILL", container)
    assert result.returncode == 0, result.stderr


def _keep_the_teams_egress(api, team: str) -> None:
    """The namespace as a platform team keeps it: REGISTRY_ONLY by its Sidecar, the allow-list's
    ServiceEntries exported to it alone (gone with the namespace)."""
    kube.create(api, scope.policy_sidecar(team, "REGISTRY_ONLY"))
    for index, entry in enumerate(targets.from_options({}, scenarios.allow_list.DEFAULT_LIST).allow_list):
        obj = allowlist.service_entry(entry, f"team-{index}")
        obj["metadata"]["namespace"], obj["spec"]["exportTo"] = team, ["."]
        kube.create(api, obj)


def _report_bytes(api, namespace: str) -> bytes:
    from egress_conformance.reports import cluster_store

    return cluster_store.read(api, namespace, jobs.REPORT)


def _report_missing(api, namespace: str) -> bool:
    return not client.CoreV1Api(api).list_namespaced_config_map(
        namespace, label_selector=f"egress-conformance.dev/report={jobs.REPORT}").items


def _journal_kept_in(api, namespace: str, timeout: float) -> dict:
    """The run's journal as the cluster keeps it, once it records MID_RUN changes."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        for _, data in cluster_journal.found(api, namespace):
            last = data
            if data and len(data.get("entries", [])) >= MID_RUN:
                return data
        time.sleep(0.2)
    raise AssertionError(f"no journal with {MID_RUN} changes in {namespace} within {timeout:.0f}s; last seen: {last}")


def _lease_expired(api, journal: dict, timeout: float) -> None:
    """Wait until every Lease of the killed run has expired (restore leaves a live run's to it)."""
    deadline = time.monotonic() + timeout
    while True:
        held = [lease.renewed(api, *where) for where in journal.get("leases", [])]  # renewed while watched
        alive = [h for h in held if h and h.identity == journal["run"]]
        if not alive:
            return
        assert time.monotonic() < deadline, f"the killed run's Leases are still renewed after {timeout:.0f}s: {alive}"
        time.sleep(0.5)
