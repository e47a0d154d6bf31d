"""What a local-mesh run could leave behind, looked up on the real machine."""

import pathlib
import subprocess

from egress_conformance.changes import journal
from egress_conformance.providers.local import proctable, runstate


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
    # By the run marker only: a single-node cluster on this machine runs processes of the same names.
    found += [f"process {pid}: {command[:120]}" for pid, command in proctable.marked().items()]
    return found
