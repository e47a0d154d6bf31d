"""deploy/job.yaml applied for real under names of the test's own (the node is shared: another
run's runner namespace, test namespace and cluster roles are never touched), and a Job waited on
through the API until it ends."""

import contextlib
import dataclasses
import secrets
import time
from collections.abc import Iterator

import yaml
from kubernetes import client, watch

from egress_conformance.cluster import kube
from tests.cluster.conftest import ROOT

RUNNER, TEST = "egress-conformance-runner", "egress-conformance-test"
CLUSTER_SCOPED_NAMES = ("egress-conformance-discovery", "egress-conformance-istiod-reader")
REPORT = "egress-conformance-report"


@dataclasses.dataclass
class Deployed:
    runner: str
    test_namespace: str
    job: dict
    """The Job of deploy/job.yaml, renamed, not created: each test sets its arguments and creates it."""


def manifests(suffix: str) -> list[dict]:
    """deploy/job.yaml with every name a second copy would clash on made the test's own."""
    text = (ROOT / "deploy" / "job.yaml").read_text()
    for shared in (RUNNER, TEST, *CLUSTER_SCOPED_NAMES):
        text = text.replace(shared, f"{shared}-{suffix}")
    return [d for d in yaml.safe_load_all(text) if d]


@contextlib.contextmanager
def applied(api: client.ApiClient, image: str) -> Iterator[Deployed]:
    """deploy/job.yaml's objects but its Job, created; all deleted at the end, failure or not."""
    suffix = secrets.token_hex(3)
    objects = manifests(suffix)
    job = next(d for d in objects if d["kind"] == "Job")
    job["spec"]["template"]["spec"]["containers"][0]["image"] = image
    made: list[dict] = []
    try:
        for obj in (o for o in objects if o["kind"] != "Job"):
            kube.create(api, obj)
            made.append(obj)
        yield Deployed(f"{RUNNER}-{suffix}", f"{TEST}-{suffix}", job)
    finally:
        for obj in reversed(made):  # the namespaces take their Jobs, pods and ConfigMaps with them
            kube.delete_and_wait(api, obj, timeout=180)


def run(api: client.ApiClient, job: dict, args: list[str]) -> dict:
    """Create ``job`` with the container's ``args``; the created Job."""
    job = yaml.safe_load(yaml.safe_dump(job))
    job["spec"]["template"]["spec"]["containers"][0]["args"] = args
    kube.create(api, job)
    return job


def ended(api: client.ApiClient, job: dict, timeout: float) -> tuple[str, client.V1Job]:
    """("Complete" or "Failed", the Job) once its conditions say it ended; on timeout, fails
    naming the last state seen (the Job's counts and its pod's phase and container state)."""
    batch = client.BatchV1Api(api)
    namespace, name = job["metadata"]["namespace"], job["metadata"]["name"]
    deadline = time.monotonic() + timeout
    last = None
    while (remaining := deadline - time.monotonic()) > 0:
        stream = watch.Watch().stream(batch.list_namespaced_job, namespace, field_selector=f"metadata.name={name}",
                                      timeout_seconds=max(1, int(remaining)))
        for event in stream:
            last = event["object"]
            for condition in last.status.conditions or []:
                if condition.type in ("Complete", "Failed") and condition.status == "True":
                    return condition.type, last
    raise AssertionError(f"Job {namespace}/{name} did not end within {timeout:.0f}s; last seen: "
                         f"{_status(last)}; its pod: {pod_state(api, namespace, name)}")


def pod_of(api: client.ApiClient, namespace: str, job_name: str) -> client.V1Pod | None:
    pods = client.CoreV1Api(api).list_namespaced_pod(namespace, label_selector=f"job-name={job_name}").items
    return pods[0] if pods else None


def pod_state(api: client.ApiClient, namespace: str, job_name: str) -> str:
    pod = pod_of(api, namespace, job_name)
    if pod is None:
        return "none"
    states = [f"{s.name}: {s.state.to_dict()}" for s in pod.status.container_statuses or []]
    return f"{pod.metadata.name} {pod.status.phase} {states}"


def log(api: client.ApiClient, namespace: str, job_name: str) -> str:
    pod = pod_of(api, namespace, job_name)
    return client.CoreV1Api(api).read_namespaced_pod_log(pod.metadata.name, namespace) if pod else "(no pod)"


def exit_code(api: client.ApiClient, namespace: str, job_name: str) -> int | None:
    pod = pod_of(api, namespace, job_name)
    for status in (pod.status.container_statuses or []) if pod else []:
        if status.state.terminated:
            return status.state.terminated.exit_code
    return None


def _status(job: client.V1Job | None) -> str:
    if job is None:
        return "no event"
    status = job.status
    return (f"active {status.active}, succeeded {status.succeeded}, failed {status.failed}, conditions "
            f"{[(c.type, c.status, c.reason) for c in status.conditions or []]}")
