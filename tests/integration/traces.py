"""What a local-mesh run could leave behind, looked up on the real machine."""

import pathlib
import subprocess

from egress_conformance import journal
from egress_conformance.providers.local import runstate

COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "pilot-discovery", "pilot-agent", "envoy")


def leftovers() -> list[str]:
    """Everything of a local-mesh run still present: namespaces, processes, files, records, journals."""
    found = []
    names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split()
    found += [f"network namespace {n}" for n in names if n.startswith("ec-")]
    found += [f"/etc/netns/{p.name}" for p in pathlib.Path("/etc/netns").glob("ec-*")]
    found += [f"temporary directory {p}" for p in pathlib.Path("/tmp").glob("egress-conformance-*")]
    found += [f"unrestored journal {j.path}" for j in journal.pending()]
    if runstate.STATE_DIR.exists():
        found += [f"run record {p}" for p in runstate.STATE_DIR.glob("*.json")]
    for proc in pathlib.Path("/proc").glob("[0-9]*"):
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        command = pathlib.Path(argv[0].decode(errors="replace")).name if argv and argv[0] else ""
        joined = b" ".join(argv).decode(errors="replace")
        if command in COMPONENTS and "egress-conformance" in joined or "local.httpbin_server" in joined:
            found.append(f"process {proc.name}: {joined[:120]}")
    return found
