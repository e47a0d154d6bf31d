"""A saved report, as `report` and `diff` name it: a report.yaml/report.json, its run's folder,
or ``cluster:NAMESPACE/NAME``, the ConfigMap(s) `run --report-configmap` wrote in a cluster
(read through cluster_store). Errors are one line that says what to pass instead."""

import pathlib
from collections.abc import Callable

from kubernetes import client

from egress_conformance.reports import cluster_store, report
from egress_conformance.reports.model import Report

CLUSTER_PREFIX = "cluster:"
"""A report argument that names ConfigMap(s) in a cluster instead of a file."""


class ReportError(Exception):
    """A one-line reason the report cannot be read."""


class BadReference(ReportError):
    """The argument does not name a report the way it must (a usage error)."""


def load(given: str, connect: Callable[[], client.ApiClient]) -> Report:
    """The report ``given`` names; ``connect`` reaches the cluster of a ``cluster:`` one."""
    if given.startswith(CLUSTER_PREFIX):
        return _load_cluster_report(given, connect)
    path = pathlib.Path(given)
    if path.is_dir():
        path = path / "report.yaml"
    try:
        return report.load(path.read_text())
    except FileNotFoundError:
        raise ReportError(f"no report at {path}: pass a report.yaml/report.json or its run folder") from None
    except ValueError as err:
        raise ReportError(f"{path} is not a conformance report: {err}") from None


def _load_cluster_report(given: str, connect: Callable[[], client.ApiClient]) -> Report:
    namespace, _, name = given.removeprefix(CLUSTER_PREFIX).partition("/")
    if not (namespace and name):
        raise BadReference(f"{given}: name the report's ConfigMap as cluster:NAMESPACE/NAME")
    api = connect()
    try:
        return report.load(cluster_store.read(api, namespace, name).decode())
    except cluster_store.StoreError as err:
        raise ReportError(f"{given}: {err}") from None
    except ValueError as err:
        raise ReportError(f"{given} is not a conformance report: {err}") from None
    except Exception as err:
        raise ReportError(f"{given}: cannot reach the cluster at {api.configuration.host} ({_short(err)})") from None


def _short(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return text[0][:200] if text else type(err).__name__
