"""What the mesh already opens before a test changes anything: someone else's ServiceEntry
for a host the test expects blocked makes its "blocked" steps fail through no fault of the
mesh. Such a test is "not run", with the object named, never a false "failed".

Visibility follows Istio's rules: a ServiceEntry without exportTo is exported to every
namespace (the mesh default); "*" is every namespace, "." its own, "~" none, else the
namespaces listed. A host pattern "*.example.com" covers the names under example.com, "*"
every name.
"""

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from egress_conformance.cluster import kube

SERVICE_ENTRY = ("networking.istio.io/v1", "ServiceEntry")


def covers(pattern: str, host: str) -> bool:
    """Does a ServiceEntry host (an exact name or a wildcard) cover ``host``?"""
    if pattern == "*":
        return True
    if pattern.startswith("*."):
        return host.endswith(pattern[1:])
    return pattern.lower() == host.lower()


def visible_to(entry: dict, namespace: str) -> str | None:
    """To whom ``entry`` is exported, in words, if ``namespace`` sees it; else None."""
    export = (entry.get("spec") or {}).get("exportTo") or ["*"]
    own = entry["metadata"]["namespace"]
    if "*" in export:
        return "every namespace"
    if namespace in export or ("." in export and own == namespace):
        return f"namespace {namespace}"
    return None


def opening(entries: list[dict], namespace: str, hosts: tuple[str, ...]) -> list[str]:
    """One line per ServiceEntry among ``entries`` that opens one of ``hosts`` to ``namespace``."""
    found = []
    for entry in entries:
        audience = visible_to(entry, namespace)
        opened = [h for h in hosts if _opens(entry, h)]
        if audience and opened:
            meta = entry["metadata"]
            found.append(f"ServiceEntry {meta['namespace']}/{meta['name']} exports {', '.join(opened)} to {audience}")
    return found


def _opens(entry: dict, host: str) -> bool:
    return any(covers(pattern, host) for pattern in (entry.get("spec") or {}).get("hosts") or [])


def already_open(api: client.ApiClient, namespace: str, hosts: tuple[str, ...]) -> tuple[list[str], str | None]:
    """(what opens ``hosts`` to ``namespace`` already, why that could not be checked or None).
    Reading every namespace's ServiceEntries needs a cluster-wide list right; without it the
    check is not made, and the caller says so."""
    try:
        entries = kube.list_everywhere(api, *SERVICE_ENTRY)
    except ApiException as err:
        if err.status in (401, 403):
            return [], (f"ServiceEntries of other namespaces not checked for the test's hosts (the API refused "
                        f"the list: HTTP {err.status}); grant list on serviceentries cluster-wide to check them")
        raise
    return opening(entries, namespace, hosts), None
