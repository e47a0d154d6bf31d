"""Telling a broken mesh from a failed egress expectation.

A component of the mesh under test down, the API unreachable, the sidecar not
ready, the external target down: these are infrastructure faults, reported as a
result of their own (Result.INFRASTRUCTURE_ERROR) in one line, never as an egress
verdict and never with a traceback. Providers raise MeshFault (their ProviderError is one)
with a message that starts with the fault (one of FAULTS); API client errors are
classified here, and nowhere else.
"""

import urllib3
from kubernetes.client import exceptions as kube_exceptions

CONTROL_PLANE, SIDECAR, API, TARGET = "control plane unavailable", "sidecar not ready", "API unavailable", "target down"
FAULTS = (CONTROL_PLANE, SIDECAR, API, TARGET)


class MeshFault(Exception):
    """The mesh under test cannot answer; str(err) is one line that says what broke."""


def infrastructure_fault(err: BaseException) -> str | None:
    """One line naming the fault if ``err`` means the mesh under test broke, else None."""
    if isinstance(err, MeshFault):
        return _one_line(str(err))
    if isinstance(err, (urllib3.exceptions.HTTPError, ConnectionError)):
        return f"{API}: {_one_line(str(err))}"
    if isinstance(err, kube_exceptions.ApiException) and (err.status or 0) in (0, 500, 502, 503, 504):
        return f"{API}: HTTP {err.status} {err.reason}"
    return None


def _one_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0][:500] if lines else "unknown fault"
