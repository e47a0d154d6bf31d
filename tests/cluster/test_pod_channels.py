"""The client pod's kept-open channels on a real cluster (a port-forward to the sidecar's admin
port, one shell for requests): the same evidence as one exec per call, a reply matched to its
request after a timeout, channels re-opened when the pod is replaced, and the exec path taken,
said in one line, when the credentials lack pods/portforward."""

import logging
import secrets
import time

import pytest
import yaml
from kubernetes import client

from egress_conformance.cluster import istiodiscovery, kube
from egress_conformance.providers import base
from egress_conformance.providers.existing import clientpod
from egress_conformance.verdicts import envoy
from egress_testbed import images

UNRESOLVABLE = "http://egress-conformance.invalid/"


@pytest.fixture(scope="module")
def namespace(api):
    """A namespace labelled for injection with the suite's client pod in it; deleted at the end."""
    core = client.CoreV1Api(api)
    name = f"ec-channels-{secrets.token_hex(3)}"
    core.create_namespace({"metadata": {"name": name, "labels": istiodiscovery.detect(api).namespace_labels}})
    try:
        start_client(api, name)
        yield name
    finally:
        kube.delete_and_wait(api, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})


def start_client(api, namespace: str) -> None:
    client.CoreV1Api(api).create_namespaced_pod(namespace, clientpod.manifest(namespace, images.NAMES["curl"]))
    clientpod.wait_injected_and_ready(api, namespace, istiodiscovery.detect(api).revision)


@pytest.fixture
def workloads(api, namespace):
    made = []

    def make(channel: str, exec_api=None) -> clientpod.PodWorkload:
        workload = clientpod.PodWorkload(exec_api or api, namespace, None, channel)
        made.append(workload)
        return workload

    yield make
    for workload in made:
        workload.close()


def counter_names(stats: str) -> set[str]:
    return set(envoy.parse_counters(stats))


def test_the_channels_give_the_evidence_one_exec_per_call_gives(workloads):
    streamed, execed = workloads(clientpod.CHANNEL_STREAM), workloads(clientpod.CHANNEL_EXEC)
    assert streamed.open_channels().startswith("admin reads through a port-forward")
    for _ in range(3):  # the same connection and shell, reused
        stats, *config = streamed.envoy_admin_many([envoy.STATS_PATH, *envoy.CONFIG_PATHS])
        exec_stats, *exec_config = execed.envoy_admin_many([envoy.STATS_PATH, *envoy.CONFIG_PATHS])
        assert counter_names(stats) == counter_names(exec_stats)
        assert envoy.sidecar_state(*config) == envoy.sidecar_state(*exec_config)
        record, exec_record = streamed.curl([UNRESOLVABLE], 3), execed.curl([UNRESOLVABLE], 3)
        assert (record["exitcode"], record["http_code"]) == (exec_record["exitcode"], exec_record["http_code"]) == (6, 0)
    many = streamed.curl_many([UNRESOLVABLE + "a", UNRESOLVABLE + "b"], [], 3)
    assert [r["exitcode"] for r in many] == [6, 6]
    done = streamed.exec(base.APP, ["sh", "-c", "echo out; echo err >&2; exit 3"], 5)
    assert (done.exit_code, done.stdout, done.stderr) == (3, "out\n", "err\n")


def test_a_command_past_its_timeout_never_answers_for_the_next(workloads):
    streamed = workloads(clientpod.CHANNEL_STREAM)
    late = streamed.exec(base.APP, ["sh", "-c", "sleep 2; echo late"], 0.5)
    assert late.exit_code == 124 and "late" not in late.stdout
    started = time.monotonic()
    after = streamed.exec(base.APP, ["echo", "next"], 5)
    assert (after.exit_code, after.stdout) == (0, "next\n") and time.monotonic() - started < 2


def test_channels_are_reopened_when_the_pod_is_replaced(api, namespace, workloads, caplog):
    streamed = workloads(clientpod.CHANNEL_STREAM)
    streamed.open_channels()
    assert streamed.exec(base.APP, ["echo", "before"], 5).stdout == "before\n"
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": clientpod.NAME, "namespace": namespace}}
    kube.delete_and_wait(api, pod)
    start_client(api, namespace)
    with caplog.at_level(logging.INFO, logger="egress"):
        assert "server.live" in streamed.envoy_admin("/stats?filter=^server.live$")
        assert streamed.exec(base.APP, ["echo", "after"], 5).stdout == "after\n"
        assert streamed.exec(base.APP, ["echo", "again"], 5).stdout == "again\n"
    # The broken shell is said once, and its command ran as an exec; then a new shell serves.
    assert sum("this command runs as an exec" in r.getMessage() for r in caplog.records) <= 1


def test_without_pods_portforward_admin_reads_go_through_exec(api, namespace, workloads, kubeconfig, tmp_path,
                                                             caplog):
    """A service account whose Role in the namespace grants exec but not port-forward."""
    core, rbac = client.CoreV1Api(api), client.RbacAuthorizationV1Api(api)
    account = f"no-portforward-{secrets.token_hex(2)}"
    core.create_namespaced_service_account(namespace, {"metadata": {"name": account}})
    rbac.create_namespaced_role(namespace, {"metadata": {"name": account}, "rules": [
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]},
        {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["get", "create"]}]})
    rbac.create_namespaced_role_binding(namespace, {
        "metadata": {"name": account}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                                   "name": account},
        "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": namespace}]})
    token = core.create_namespaced_service_account_token(account, namespace,
                                                         {"spec": {"expirationSeconds": 600}}).status.token
    admin = yaml.safe_load(kubeconfig.read_text())
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "clusters": admin["clusters"][:1],
        "users": [{"name": account, "user": {"token": token}}],
        "contexts": [{"name": account, "context": {"cluster": admin["clusters"][0]["name"], "user": account}}],
        "current-context": account}))
    restricted = workloads(clientpod.CHANNEL_STREAM, kube.connect(path))
    with caplog.at_level(logging.INFO, logger="egress"):
        said = restricted.open_channels()
        stats = restricted.envoy_admin(envoy.STATS_PATH)
    assert said.startswith("admin reads through one exec per admin read"), said
    refusals = [r.getMessage() for r in caplog.records if "pods/portforward" in r.getMessage()]
    assert len(refusals) == 1 and "go through exec" in refusals[0], refusals
    assert "cluster_manager.cds.update_success" in counter_names(stats)
    assert restricted.curl([UNRESOLVABLE], 3)["exitcode"] == 6  # requests still go through the shell
