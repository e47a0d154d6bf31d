"""`run --report-configmap [NAMESPACE/]NAME`: the run's report stored in the cluster it ran
against (reports/cluster_store), the way out of an in-cluster Job's pod: the earlier report of
that name removed before the run starts, this run's written when it ends."""

import dataclasses
import json
import pathlib

from kubernetes import client

from egress_conformance.cluster import kube, kubeconfigs
from egress_conformance.reports import cluster_store


class PublishError(Exception):
    """One line: the report could not be kept in the cluster."""


@dataclasses.dataclass
class Destination:
    namespace: str
    name: str
    api: client.ApiClient

    @property
    def where(self) -> str:
        return f"ConfigMap {self.namespace}/{self.name}"

    def clear(self) -> None:
        try:
            cluster_store.remove(self.api, self.namespace, self.name)
        except Exception as err:
            raise PublishError(f"cannot remove the earlier report {self.where} before the run ({_short(err)}); the "
                               "runner's service account needs list and delete on configmaps in "
                               f"{self.namespace}") from None

    def publish(self, report_dir: pathlib.Path) -> str:
        """Store the run's report.json; the line that says where (nothing is stored when the run wrote none)."""
        path = report_dir / "report.json"
        if not path.is_file():
            return f"no report to store in {self.where}: the run wrote none"
        document = path.read_bytes()
        summary = {"egress-conformance.dev/result": str(json.loads(document).get("result"))}
        try:
            parts = cluster_store.write(self.api, self.namespace, self.name, document, summary)
        except Exception as err:
            raise PublishError(f"cannot store the report in {self.where} ({_short(err)}); it is in {report_dir}")\
                from None
        return (f"report stored in {self.where} ({parts} ConfigMap{'s' if parts > 1 else ''}); read it with "
                f"`egress-conformance report cluster:{self.namespace}/{self.name} --kubeconfig FILE`")


def destination(given: str | None, provider: str, options: object) -> Destination | None:
    """Where ``--report-configmap`` stores the report, connected as the run is; None when not asked.
    Raises cluster_store.StoreError for a value that cannot work (a usage error)."""
    if not given:
        return None
    if provider != "existing":
        raise cluster_store.StoreError(f"--report-configmap keeps the report in the cluster under test: it needs "
                                       f"--provider existing, not {provider}")
    kubeconfig = getattr(options, "kubeconfig", None)
    namespace, name = cluster_store.parse_target(given, in_cluster=kubeconfig is None)
    if kubeconfig is None:
        return Destination(namespace, name, kube.connect(None))
    try:
        return Destination(namespace, name, kubeconfigs.connect_through_copy(pathlib.Path(kubeconfig),
                                                                             getattr(options, "context", None)))
    except kubeconfigs.KubeconfigError as err:
        raise cluster_store.StoreError(str(err)) from None


def _short(err: Exception) -> str:
    if isinstance(err, client.ApiException):
        return f"the API answered {err.status} {err.reason}"
    lines = str(err).strip().splitlines()
    return lines[0][:200] if lines else type(err).__name__
