"""Before anything starts: each fixed port of the node must be free, or held by the node's
own running daemon (a second ``up``)."""

import re
import subprocess

from egress_testbed.node import daemons, layout
from egress_testbed.node.errors import NodeError

_HOLDER = re.compile(r'users:\(\("([^"]+)",pid=(\d+)')


def listeners(ss_output: str) -> list[tuple[str, int, str, int | None]]:
    """(address, port, holder name, holder pid) of each listening socket in ``ss -Hlnptu`` output."""
    found = []
    for line in ss_output.splitlines():
        fields = line.split()
        if len(fields) < 5 or fields[0] not in ("tcp", "udp"):
            continue
        address, _, port = fields[4].rpartition(":")
        holder = _HOLDER.search(line)
        found.append((address.strip("[]").split("%")[0], int(port), holder[1] if holder else "",
                      int(holder[2]) if holder else None))
    return found


def check_free() -> None:
    """Raise a NodeError naming the first port of the node that another process holds."""
    ours = {daemons.pid(name) for name in daemons.recorded()} - {None}
    out = subprocess.run(["ss", "-H", "-l", "-n", "-p", "-t", "-u"], capture_output=True, text=True).stdout
    wanted = {port: name for name, port in layout.FIXED_PORTS.items()}
    for address, port, holder, pid in listeners(out):
        if port not in wanted or address not in ("0.0.0.0", "*", "::", layout.NODE_IP):
            continue
        if pid in ours:
            continue
        raise NodeError(f"port {port} ({wanted[port]}) on {layout.NODE_IP} is in use by "
                        f"{holder or 'another process'}{f' (pid {pid})' if pid else ''}: stop it, "
                        "or run `ci/node down` if it is a node left over, then `ci/node up` again")
