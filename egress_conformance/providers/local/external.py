"""The "internet" of the local mesh: a real httpbin in its own network namespace.

It is reached by name only: the client pod's hosts file maps the external names
(httpbin.org and the rest) to its address, while nothing in the mesh registry
knows it. It serves HTTPS with a certificate from a throwaway CA that the client
trusts, so that HTTPS egress can be checked too.
"""

import dataclasses
import pathlib
import sys

from egress_conformance import pki
from egress_conformance.changes import cleanup
from egress_conformance.hosts.targets import Targets
from egress_conformance.providers.local import netns, processes

READY_TIMEOUT_SECONDS = 30.0


@dataclasses.dataclass(frozen=True)
class ExternalHost:
    namespace: netns.Namespace
    address: str
    ca: pki.KeyPair
    process: processes.Process


def start(
    namespace: netns.Namespace,
    address: str,
    targets: Targets,
    run_dir: pathlib.Path,
    undo: cleanup.Stack,
    record,
) -> ExternalHost:
    """Start httpbin on ``address`` inside ``namespace``, on every port of ``targets``,
    serving TLS for all of their names."""
    directory = run_dir / "external"
    directory.mkdir()
    ca = pki.ca(directory, "external-ca", "egress-conformance throwaway external CA")
    serving = pki.leaf(directory, "httpbin", ca, targets.host, dns=targets.names())
    plain, tls = targets.ports()
    process = processes.start(
        "httpbin",
        namespace.argv([sys.executable, "-m", "egress_conformance.providers.local.httpbin_server", str(serving.cert),
                        str(serving.key), ",".join(map(str, plain)), ",".join(map(str, tls))]),
        log_dir=run_dir, undo=undo, record=record,
    )
    processes.wait_ready(
        process,
        lambda: namespace.run(["curl", "-sf", "-o", "/dev/null", "http://127.0.0.1/get"], timeout=5).returncode == 0,
        timeout=READY_TIMEOUT_SECONDS, what="GET http://127.0.0.1/get",
    )
    return ExternalHost(namespace, address, ca, process)
