"""A run's report kept in the cluster, where an in-cluster Job's disk is lost with its pod:
report.json gzipped into ConfigMaps in the runner's namespace, so `egress-conformance report`
and `diff` read it from any machine (`cluster:NAMESPACE/NAME`) and no `kubectl cp` is needed.

A ConfigMap holds at most 1 MiB. A report compresses about tenfold, so one ConfigMap fits all
but huge allow-lists; past PART_BYTES the gzip is split over NAME-2, NAME-3, ... and NAME,
written last, says how many parts there are and the whole's digest: a reader never mistakes a
half-written or older set of parts for a report.
"""

import base64
import gzip
import hashlib
import pathlib
import re

from kubernetes import client
from kubernetes.client.exceptions import ApiException

LABEL = "egress-conformance.dev/report"
"""On every ConfigMap of a report, its value the report's NAME (how parts are found and removed)."""
KEY = "report.json.gz"
PART_BYTES = 768 * 1024
"""Compressed bytes per ConfigMap, with room under the API's 1 MiB for the metadata."""
NAME = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
POD_NAMESPACE = pathlib.Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


class StoreError(Exception):
    """A one-line reason the report cannot be read from (or written to) the cluster."""


def parse_target(given: str, in_cluster: bool) -> tuple[str, str]:
    """(namespace, name) from ``[NAMESPACE/]NAME``; the namespace defaults to the pod's own in a pod."""
    namespace, _, name = given.rpartition("/")
    if not namespace:
        if not in_cluster:
            raise StoreError(f"--report-configmap {given}: name its namespace (NAMESPACE/NAME) when the run is "
                             "not --in-cluster")
        namespace = POD_NAMESPACE.read_text().strip()
    # The name leaves room for the parts' suffix (-2, -3, ...).
    if not NAME.fullmatch(namespace) or not NAME.fullmatch(name) or len(name) > 60:
        raise StoreError(f"--report-configmap {given}: not NAMESPACE/NAME (lowercase letters, digits and '-'; the "
                         "name at most 60)")
    return namespace, name


def split(document: bytes, part_bytes: int = PART_BYTES) -> list[bytes]:
    """The gzipped report in parts of at most ``part_bytes`` (reproducible: no time in the gzip header)."""
    packed = gzip.compress(document, mtime=0)
    return [packed[i:i + part_bytes] for i in range(0, len(packed), part_bytes)] or [b""]


def join(parts: list[bytes], digest: str) -> bytes:
    """The report from its parts, checked against the digest the head recorded."""
    packed = b"".join(parts)
    if hashlib.sha256(packed).hexdigest() != digest:
        raise StoreError("its parts do not match the digest its head recorded (written by two runs at once?); "
                         "run the Job again")
    return gzip.decompress(packed)


def part_name(name: str, index: int) -> str:
    """The ConfigMap of part ``index`` (0: the head, NAME itself)."""
    return name if index == 0 else f"{name}-{index + 1}"


def remove(api: client.ApiClient, namespace: str, name: str) -> None:
    """Delete an earlier report of that name, all its parts: a stale one must never stand for this run."""
    core = client.CoreV1Api(api)
    for item in core.list_namespaced_config_map(namespace, label_selector=f"{LABEL}={name}").items:
        try:
            core.delete_namespaced_config_map(item.metadata.name, namespace)
        except ApiException as err:
            if err.status != 404:
                raise


def write(api: client.ApiClient, namespace: str, name: str, document: bytes, summary: dict[str, str]) -> int:
    """Store report.json's bytes under ``name`` (``summary``, e.g. the result, as the head's
    annotations, for `kubectl get -o yaml`); the number of ConfigMaps written."""
    parts = split(document)
    digest = hashlib.sha256(b"".join(parts)).hexdigest()
    for index in [*range(1, len(parts)), 0]:  # the head last: it says the parts are complete
        annotations = dict(summary, **{f"{LABEL}-parts": str(len(parts)), f"{LABEL}-sha256": digest}) \
            if index == 0 else {}
        body = client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name=part_name(name, index), namespace=namespace, labels={LABEL: name},
                                         annotations=annotations),
            binary_data={KEY: base64.b64encode(parts[index]).decode()})
        _put(client.CoreV1Api(api), namespace, body)
    return len(parts)


def read(api: client.ApiClient, namespace: str, name: str) -> bytes:
    """report.json's bytes as the run stored them."""
    core = client.CoreV1Api(api)
    head = _get(core, namespace, name, "")
    annotations = head.metadata.annotations or {}
    if (head.metadata.labels or {}).get(LABEL) != name or f"{LABEL}-parts" not in annotations:
        raise StoreError(f"ConfigMap {namespace}/{name} is not a report written by `egress-conformance run "
                         "--report-configmap`")
    count = int(annotations[f"{LABEL}-parts"])
    parts = [head] + [_get(core, namespace, part_name(name, i), f" (part {i + 1} of {count})") for i in range(1, count)]
    return join([base64.b64decode((p.binary_data or {}).get(KEY, "")) for p in parts], annotations[f"{LABEL}-sha256"])


def _get(core: client.CoreV1Api, namespace: str, name: str, which: str) -> client.V1ConfigMap:
    try:
        return core.read_namespaced_config_map(name, namespace)
    except ApiException as err:
        if err.status == 404:
            raise StoreError(f"no ConfigMap {namespace}/{name}{which}: the run has not finished, wrote no report "
                             "(see the Job's log), or it was removed") from None
        raise StoreError(f"cannot read ConfigMap {namespace}/{name}: the API answered {err.status} {err.reason}") \
            from None


def _put(core: client.CoreV1Api, namespace: str, body: client.V1ConfigMap) -> None:
    try:
        core.create_namespaced_config_map(namespace, body)
    except ApiException as err:
        if err.status != 409:
            raise
        core.replace_namespaced_config_map(body.metadata.name, namespace, body)
