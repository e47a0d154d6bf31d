"""Telling a broken mesh from a failed egress expectation, and both from what is neither.

A component of the mesh under test down, the API unreachable, the sidecar not
ready, the external target down: these are infrastructure faults, reported as a
result of their own (Result.INFRASTRUCTURE_ERROR) in one line, never as an egress
verdict and never with a traceback. Providers raise MeshFault (their ProviderError is one)
with a message that starts with the fault (one of FAULTS); API client errors are
classified here, and nowhere else. The API refusing the run (its rights, someone else's
object in the way, an object it finds invalid) and a bug of the suite are not verdicts
on the mesh either: the test is "not run", with the reason in one line.
"""

import http
import json

import urllib3
from kubernetes.client import exceptions as kube_exceptions

from egress_conformance.changes import journal, objects
from egress_conformance.cluster import meshconfig

CONTROL_PLANE, SIDECAR, API, TARGET = "control plane unavailable", "sidecar not ready", "API unavailable", "target down"
FAULTS = (CONTROL_PLANE, SIDECAR, API, TARGET)


class MeshFault(Exception):
    """The mesh under test cannot answer; str(err) is one line that says what broke."""


class Unsupported(Exception):
    """The mesh lacks a feature its provider declared, as the test itself found out (e.g. a CNI
    that does not enforce NetworkPolicy); str(err) is the one-line reason. Never a verdict."""


def infrastructure_fault(err: BaseException) -> str | None:
    """One line naming the fault if ``err`` means the mesh under test broke, else None."""
    if isinstance(err, MeshFault):
        return _one_line(str(err))
    if isinstance(err, (urllib3.exceptions.HTTPError, ConnectionError)):
        return f"{API}: {_one_line(str(err))}"
    if isinstance(err, kube_exceptions.ApiException) and (err.status or 0) in (0, 500, 502, 503, 504):
        return f"{API}: HTTP {err.status} {err.reason}"
    return None


REFUSALS = {
    401: "refresh the kubeconfig's credentials",
    403: "grant the run's account this right (README: the RBAC table)",
    409: "an object someone else holds is in the way: remove or rename it, or run when its owner is done",
}
"""API answers that refuse the run rather than report on the mesh, with what to do about each."""


def refusal(err: BaseException) -> str | None:
    """One line naming what the API refused, if ``err`` is a refusal of the run (not a verdict), else None."""
    if isinstance(err, (objects.InvalidObject, meshconfig.Changed, journal.ClusterBusy)):
        return _one_line(str(err))
    if isinstance(err, kube_exceptions.ApiException) and err.status in REFUSALS:
        said = err.reason or http.HTTPStatus(err.status).phrase
        return f"the API refused the run (HTTP {err.status} {said}): {_api_message(err)}; {REFUSALS[err.status]}"
    return None


def suite_bug(err: BaseException) -> str:
    """One line for an exception no rule expects: a bug of the suite, never the mesh's fault."""
    return f"suite bug: {type(err).__name__}: {_one_line(str(err)) if str(err).strip() else 'no message'}"


def _api_message(err: kube_exceptions.ApiException) -> str:
    try:
        return _one_line(json.loads(err.body)["message"])
    except (TypeError, ValueError, KeyError):
        return _one_line(str(err.body or err.reason or "no message"))


def _one_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0][:500] if lines else "unknown fault"
