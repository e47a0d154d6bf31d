"""What a run on a cluster it did not create holds there while it lives: its journal, kept in
the test namespace beside the machine's own copy, and its Leases: the test namespace's
(the namespace may be a user's, shared by CI jobs) and, when mesh-wide changes are allowed,
the mesh config's (every run that may change it, from any machine, takes the same one), and
the shared egress gateway's once a scenario uses it.
Before its first change a run looks for journals other runs left in the cluster.
"""

import logging

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from egress_conformance.changes import cleanup, cluster_journal, lease
from egress_conformance.changes.journal import ClusterBusy, Journal, JournalError, describe
from egress_conformance.cluster import meshconfig
from egress_conformance.providers.base import EgressGateway

log = logging.getLogger("egress")

NAMESPACE_LEASE = "egress-conformance"


def mesh_config_lease(config_map: str) -> str:
    return f"egress-conformance-{config_map}"


def journal_name(run_id: str) -> str:
    return f"egress-conformance-journal-{run_id}"


def unrestored(api: client.ApiClient, namespace: str | None) -> None:
    """Every run, before its first change: a journal another run left in the cluster, whose
    Leases its run no longer renews, holds changes nobody will undo; raises ClusterBusy naming
    it. Journals of runs still going are theirs (a run in another namespace goes on)."""
    try:
        kept = cluster_journal.found(api)
    except ApiException as err:
        if err.status != 403:
            raise
        if not namespace:
            # A namespace of its own holds no journal yet; the mesh Lease's take-over still
            # refuses while a dead run's journal holds mesh-wide changes (_left_behind).
            log.info("  cannot list journals cluster-wide (HTTP 403): looked at the Leases only")
            return
        kept = cluster_journal.found(api, namespace)  # a Role in the given namespace: look there
    try:
        left = cluster_journal.unrestored(api, kept)
    except JournalError as err:
        raise ClusterBusy(str(err)) from None
    if left:
        raise ClusterBusy(f"an earlier run left changes unrestored in the cluster ({describe(left[0])}); run "
                          "`egress-conformance restore --kubeconfig K` first")


def take_mesh(api: client.ApiClient, journal: Journal, undo: cleanup.Stack, namespace: str,
              mesh_config_map: tuple[str, str]) -> None:
    """Take the mesh config's Lease before the run's first change (every run that may change the
    mesh, from any machine, takes the same one): released last, and only once the journal is empty."""
    _take(api, journal, undo, lease.RunLease(api, mesh_config_map[0], mesh_config_lease(mesh_config_map[1]),
                                             journal.run_id, f"{namespace}/{journal_name(journal.run_id)}"))


def take(api: client.ApiClient, journal: Journal, undo: cleanup.Stack, namespace: str, *,
         created: bool = False) -> None:
    """Take the test namespace's Lease (the namespace may be a user's, shared by CI jobs) and
    mirror the run's journal into ``namespace``; raises ClusterBusy, naming the holder, when
    another run holds it. In a namespace the run ``created`` the Lease stays until the
    namespace's deletion takes it with the journal, so that the journal is never there without it."""
    where = f"{namespace}/{journal_name(journal.run_id)}"
    _take(api, journal, undo, lease.RunLease(api, namespace, NAMESPACE_LEASE, journal.run_id, where),
          goes_with_namespace=created)
    journal.mirror(cluster_journal.ConfigMapSink(api, namespace, journal_name(journal.run_id)))


def gateway_lease(service: str) -> str:
    return f"egress-conformance-gateway-{service}"


def take_gateway(api: client.ApiClient, journal: Journal, undo: cleanup.Stack, namespace: str,
                 gateway: EgressGateway) -> None:
    """Take the shared egress gateway's Lease, in its namespace, to the run's end: two runs sending
    the same host through it would disturb each other (it merges both runs' endpoints for the
    host). Raises ClusterBusy, naming the holder, while another run holds it."""
    _take(api, journal, undo, lease.RunLease(api, gateway.namespace, gateway_lease(gateway.service), journal.run_id,
                                             f"{namespace}/{journal_name(journal.run_id)}"))


def _take(api: client.ApiClient, journal: Journal, undo: cleanup.Stack, held: lease.RunLease, *,
          goes_with_namespace: bool = False) -> None:
    try:
        held.acquire(lambda holder: _left_behind(api, holder))
    except lease.Busy as err:
        raise ClusterBusy(str(err)) from None
    journal.data.setdefault("leases", []).append([held.namespace, held.name])
    # Changes journaled before the Lease (the namespace it lives in) are undone after its release.
    before = {entry["id"] for entry in journal.entries}
    undo.push(f"release {held.where}",
              lambda: held.release(keep=any(entry["id"] not in before for entry in journal.entries),
                                   goes_with_namespace=goes_with_namespace))


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


def set_mesh_policy(api: client.ApiClient, where: tuple[str, str], policy: str, cluster: dict) -> None:
    """``egress-conformance policy``: change the mesh config's policy the way a run does: under
    the mesh Lease (never while a run changes the mesh), journaled before the write (a kill
    mid-write leaves what ``restore`` needs), written only over the text read (meshconfig.Changed
    otherwise). The change is the user's own: its entry is settled once written, never undone.
    Raises ClusterBusy while another run holds the Lease."""
    change = Journal()
    change.bind(cluster)
    held = lease.RunLease(api, where[0], mesh_config_lease(where[1]), change.run_id, "")
    try:
        held.acquire(lambda holder: _left_behind(api, holder), renew=False)  # one write: well inside its duration
    except lease.Busy as err:
        raise ClusterBusy(str(err)) from None
    try:
        original, read_at = meshconfig.read_versioned(api, where)
        written = meshconfig.with_policy(original, policy)
        entry = change.mesh_config_changing(where, original, written)
        try:
            meshconfig.write(api, where, written, read_at=read_at)
        except meshconfig.Changed:
            change.settle(entry)
            raise
        change.settle(entry)
    finally:
        held.release(keep=bool(change.entries))
