"""What a run on a cluster it did not create holds there while it lives: its journal, kept in
the test namespace beside the machine's own copy, and its Leases: the test namespace's
(the namespace may be a user's, shared by CI jobs) and, when mesh-wide changes are allowed,
the mesh config's (every run that may change it, from any machine, takes the same one).
"""

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from egress_conformance.changes import cleanup, cluster_journal, lease
from egress_conformance.changes.journal import ClusterBusy, Journal

NAMESPACE_LEASE = "egress-conformance"


def mesh_config_lease(config_map: str) -> str:
    return f"egress-conformance-{config_map}"


def journal_name(run_id: str) -> str:
    return f"egress-conformance-journal-{run_id}"


def take(api: client.ApiClient, journal: Journal, undo: cleanup.Stack, namespace: str,
         mesh_config_map: tuple[str, str] | None) -> None:
    """Take the run's Leases (released at the end, on the ``undo`` stack) and mirror its
    journal into ``namespace``; raises ClusterBusy, naming the holder, when another run holds one."""
    where = f"{namespace}/{journal_name(journal.run_id)}"
    leases = [lease.RunLease(api, namespace, NAMESPACE_LEASE, journal.run_id, where)]
    if mesh_config_map:
        leases.append(lease.RunLease(api, mesh_config_map[0], mesh_config_lease(mesh_config_map[1]),
                                     journal.run_id, where))
    for held in leases:
        try:
            held.acquire(lambda holder: _left_behind(api, holder))
        except lease.Busy as err:
            raise ClusterBusy(str(err)) from None
        undo.push(f"release {held.where}", held.release)
    journal.data["leases"] = [[held.namespace, held.name] for held in leases]
    journal.mirror(cluster_journal.ConfigMapSink(api, namespace, journal_name(journal.run_id)))


def _left_behind(api: client.ApiClient, holder: lease.Holder) -> str | None:
    """Why a dead holder's Lease may not be taken over (its journal still holds changes), or None."""
    if not holder.journal:
        return None
    namespace, name = holder.journal.split("/", 1)
    try:
        data = client.CoreV1Api(api).read_namespaced_config_map(name, namespace).data or {}
    except ApiException as err:
        if err.status == 404:
            return None
        raise
    if cluster_journal.KEY not in data:
        return None
    return (f"run {holder.identity} died leaving changes in the cluster (journal ConfigMap {holder.journal}): "
            "run `egress-conformance restore --kubeconfig K` first")
