"""The run's journal kept in the cluster it changes, beside the machine's own copy: a
ConfigMap in the test namespace, written before each change as the local file is. A CI
runner or an in-cluster Job killed mid-run loses its disk; the cluster keeps what
``egress-conformance restore --kubeconfig K`` needs, from any machine.
"""

import json

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from egress_conformance.changes import lease
from egress_conformance.changes.journal import Journal

LABEL = "egress-conformance.dev/journal"
KEY = "journal.json"


class ConfigMapSink:
    """Where a Journal mirrors itself: one ConfigMap, replaced whole on each write (its
    entries are a few lines each; hundreds fit far below the 1 MiB limit)."""

    def __init__(self, api: client.ApiClient, namespace: str, name: str):
        self.core = client.CoreV1Api(api)
        self.namespace, self.name = namespace, name

    @property
    def where(self) -> str:
        return f"{self.namespace}/{self.name}"

    def write(self, data: dict) -> None:
        body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name=self.name, namespace=self.namespace,
                                                               labels={LABEL: "true"}),
                                  data={KEY: json.dumps(data, indent=1)})
        try:
            self.core.replace_namespaced_config_map(self.name, self.namespace, body)
        except ApiException as err:
            if err.status != 404:
                raise
            self.core.create_namespaced_config_map(self.namespace, body)

    def remove(self) -> None:
        try:
            self.core.delete_namespaced_config_map(self.name, self.namespace)
        except ApiException as err:
            if err.status != 404:  # gone with its namespace
                raise


def found(api: client.ApiClient, namespace: str | None = None) -> list[tuple[ConfigMapSink, dict]]:
    """Every journal kept in the cluster (in ``namespace`` only, when given): its sink and data."""
    core = client.CoreV1Api(api)
    listed = (core.list_namespaced_config_map(namespace, label_selector=LABEL) if namespace
              else core.list_config_map_for_all_namespaces(label_selector=LABEL))
    journals = []
    for item in listed.items:
        try:
            data = json.loads((item.data or {}).get(KEY, ""))
        except json.JSONDecodeError:
            data = None
        journals.append((ConfigMapSink(api, item.metadata.namespace, item.metadata.name), data))
    return journals


def live_holders(api: client.ApiClient, journals: list[Journal],
                 clock: lease.Clock = lease.SYSTEM_CLOCK) -> list[list[tuple[str, lease.Holder]]]:
    """For each journal, the Leases its run took that are live ("namespace/name", holder; any
    run's: a Lease taken over since is live too), judged in one watch (lease.observe_all:
    renewed while watched)."""
    coordination = client.CoordinationV1Api(api)
    wheres = {tuple(where) for journal in journals for where in journal.data.get("leases", [])}
    verdicts = lease.observe_all({where: lease.reader(coordination, *where) for where in wheres}, clock)
    return [[("/".join(where), holder) for where in journal.data.get("leases", [])
             for holder, alive in [verdicts[tuple(where)]] if alive and holder] for journal in journals]


def unrestored(api: client.ApiClient, kept: list[tuple[ConfigMapSink, dict]]) -> list[Journal]:
    """The journals among ``kept`` (``found``) whose run renews none of its Leases: it is dead
    and left changes. Raises JournalError for a journal that cannot be read."""
    journals = [Journal.from_cluster(sink, data) for sink, data in kept]
    dead = [journal for journal, live in zip(journals, live_holders(api, journals), strict=True)
            if not any(holder.identity == journal.run_id for _, holder in live)]
    # Read again after the watch: a run that ended meanwhile removed its journal (or its namespace did).
    return [journal for journal in dead if journal.sink and _still_holds_entries(api, journal.sink.where)]


def _still_holds_entries(api: client.ApiClient, where: str) -> bool:
    namespace, name = where.split("/", 1)
    try:
        data = client.CoreV1Api(api).read_namespaced_config_map(name, namespace).data or {}
    except ApiException as err:
        if err.status == 404:
            return False
        raise
    try:
        return bool(json.loads(data.get(KEY, "")).get("entries"))
    except (json.JSONDecodeError, AttributeError):
        return True  # unreadable: from_cluster named it already; keep refusing


def release(journal: Journal, api: client.ApiClient) -> list[str]:
    """Once a dead run's journal is restored: free its Leases and remove the cluster's copy of
    its journal (restore from this machine's copy leaves no trace in the cluster either)."""
    lines = []
    for namespace, name in journal.data.get("leases", []):
        if lease.free(api, namespace, name, journal.run_id):
            lines.append(f"freed Lease {namespace}/{name} of run {journal.run_id}")
    if journal.data.get("mirror") and journal.sink is None:
        namespace, name = journal.data["mirror"].split("/", 1)
        ConfigMapSink(api, namespace, name).remove()
    return lines
