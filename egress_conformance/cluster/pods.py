"""Waiting for a pod to be Ready, the one way every part of the suite does it: poll its
conditions, let the caller reject at once a pod that can never become right, and on timeout
say the state last seen."""

import time
from collections.abc import Callable

from kubernetes import client


class NotReady(TimeoutError):
    """A pod was not Ready in time; str(err) names the state last seen."""


def until_ready(api: client.ApiClient, namespace: str, name: str, timeout: float,
                inspect: Callable[[client.V1Pod], None] = lambda pod: None) -> client.V1Pod:
    """The pod once Ready. ``inspect(pod)`` is called on every read and raises for a pod that
    will never be right (no sidecar where one was wanted, and the like)."""
    core = client.CoreV1Api(api)
    deadline = time.monotonic() + timeout
    seen = "no pod yet"
    while time.monotonic() < deadline:
        pod = core.read_namespaced_pod(name, namespace)
        inspect(pod)
        if any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or []):
            return pod
        seen = state(pod)
        time.sleep(0.5)
    raise NotReady(f"pod {namespace}/{name} did not become ready in {timeout:.0f}s: {seen}")


def state(pod: client.V1Pod) -> str:
    """The pod's phase and why its containers wait, in one line."""
    waiting = [f"{s.name}: {s.state.waiting.reason} {s.state.waiting.message or ''}".strip()
               for s in (pod.status.init_container_statuses or []) + (pod.status.container_statuses or [])
               if s.state and s.state.waiting]
    return f"phase {pod.status.phase}" + (f", waiting: {'; '.join(waiting)}" if waiting else "")
