"""Network namespaces and veth links: the local mesh's pods and external host.

``ip netns exec`` bind-mounts /etc/netns/NAME/{hosts,resolv.conf} over /etc for
whatever runs inside, which is how names like httpbin.org resolve for the client
and for Envoy's own DNS without any real resolver.
"""

import dataclasses
import pathlib
import shutil
import subprocess

from egress_conformance.changes import cleanup
from egress_conformance.providers.local.errors import LocalMeshError

ETC_NETNS = pathlib.Path("/etc/netns")


def ip(*args: str) -> None:
    """Run one ``ip`` command; a failure becomes a one-line LocalMeshError."""
    result = subprocess.run(["ip", *args], capture_output=True, text=True)
    if result.returncode != 0:
        hint = ""
        if "Operation not permitted" in result.stderr:
            hint = "; the local mesh needs root (CAP_NET_ADMIN): run it as root"
        raise LocalMeshError(f"ip {' '.join(args)} failed: {result.stderr.strip()}{hint}")


@dataclasses.dataclass(frozen=True)
class Namespace:
    """A network namespace created by this run."""

    name: str

    def argv(self, argv: list[str], *, uid: int | None = None) -> list[str]:
        """``argv`` run inside this namespace, as ``uid`` when given (else as root)."""
        prefix = ["ip", "netns", "exec", self.name]
        if uid is not None:
            prefix += ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--"]
        return prefix + argv

    def run(self, argv: list[str], *, uid: int | None = None, timeout: float = 30.0) -> subprocess.CompletedProcess:
        """Run a command inside the namespace and return its completed process."""
        return subprocess.run(self.argv(argv, uid=uid), capture_output=True, text=True, timeout=timeout)

    def set_hosts(self, entries: dict[str, list[str]]) -> None:
        """Write the namespace's /etc/hosts (address -> names) and a resolv.conf that points
        at loopback, so that no DNS query for an unknown name ever leaves the machine."""
        directory = ETC_NETNS / self.name
        # A line per name: an allow-list can map hundreds of names to one address.
        lines = ["127.0.0.1 localhost"] + [f"{address} {name}" for address, names in entries.items() for name in names]
        (directory / "hosts").write_text("\n".join(lines) + "\n")
        (directory / "resolv.conf").write_text("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")


def create(name: str, undo: cleanup.Stack) -> Namespace:
    """Create a namespace with loopback up and an /etc/netns directory; registers its removal."""
    ip("netns", "add", name)
    undo.push(f"delete network namespace {name}", lambda: delete(name))
    (ETC_NETNS / name).mkdir(parents=True, exist_ok=True)
    namespace = Namespace(name)
    ip("-n", name, "link", "set", "lo", "up")
    return namespace


def delete(name: str) -> None:
    """Remove a namespace (its veths and iptables rules go with it) and its /etc/netns files."""
    subprocess.run(["ip", "netns", "del", name], capture_output=True)
    shutil.rmtree(ETC_NETNS / name, ignore_errors=True)


def link(a: Namespace | None, a_if: str, a_cidr: str, b: Namespace, b_if: str, b_cidr: str) -> None:
    """Join two namespaces (``a`` None means the host) with a veth pair and address both ends.

    The pair dies with either namespace, so its undo is the namespace's deletion.
    """
    temp = f"{b.name[-8:]}-{b_if}"[-15:]
    ip("link", "add", a_if, "type", "veth", "peer", "name", temp)
    if a is not None:
        ip("link", "set", a_if, "netns", a.name)
    ip("link", "set", temp, "netns", b.name)
    ip("-n", b.name, "link", "set", temp, "name", b_if)
    for namespace, interface, cidr in ((a, a_if, a_cidr), (b, b_if, b_cidr)):
        scope = ["-n", namespace.name] if namespace else []
        ip(*scope, "addr", "add", cidr, "dev", interface)
        ip(*scope, "link", "set", interface, "up")
