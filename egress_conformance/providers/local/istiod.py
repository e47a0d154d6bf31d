"""istiod (pilot-discovery) out of cluster, against the local API server.

It serves plaintext xDS on the host end of the pod's veth, reads the mesh config
from the ``istio`` ConfigMap (no --meshConfig file, so ConfigMap changes take
effect live), and has every Istio-only Envoy extension switched off, because the
Envoy here is an upstream build that would reject them (BRIEF section 3).
"""

import dataclasses
import os
import pathlib
import urllib.request

from egress_conformance.changes import cleanup
from egress_conformance.cluster import clusterinfo
from egress_conformance.installed import Layout
from egress_conformance.providers.local import ports, processes

READY_TIMEOUT_SECONDS = 120.0

SWITCHES = {
    "ENABLE_CA_SERVER": "false",
    "INJECT_ENABLED": "false",
    "VALIDATION_WEBHOOK_CONFIG_NAME": "",
    "INJECTION_WEBHOOK_CONFIG_NAME": "",
    "PILOT_ENABLE_METADATA_EXCHANGE": "false",  # istio.metadata_exchange filters
    "PILOT_ENABLE_ALPN_FILTER": "false",  # istio.alpn filter
    "ISTIOD_CUSTOM_HOST": "localhost",
}
"""istiod settings that keep its xDS within what upstream Envoy accepts."""


@dataclasses.dataclass(frozen=True)
class Istiod:
    process: processes.Process
    xds_address: str
    debug_url: str
    monitoring_url: str

    def version(self) -> str:
        """What the running istiod says it is (its monitoring port's /version)."""
        with urllib.request.urlopen(f"{self.monitoring_url}/version", timeout=5) as response:
            return clusterinfo.istio_version(response.read().decode())


def start(layout: Layout, kubeconfig: pathlib.Path, xds_address: str, run_dir: pathlib.Path,
          undo: cleanup.Stack, record) -> Istiod:
    """Start istiod and wait until it reports ready; registers its stop on ``undo``."""
    directory = run_dir / "istiod"
    directory.mkdir()
    http_port, monitoring_port = ports.free_loopback_port(), ports.free_loopback_port()
    env = dict(
        SWITCHES,
        PATH=os.environ.get("PATH", "/usr/bin:/bin"),
        HOME=str(directory),
        POD_NAMESPACE="istio-system",
        POD_NAME="istiod-local",
        REVISION="default",
        KUBECONFIG=str(kubeconfig),
    )
    process = processes.start("istiod", [
        str(layout.binary("pilot-discovery")), "discovery", f"--kubeconfig={kubeconfig}",
        "--registries=Kubernetes", f"--grpcAddr={xds_address}", "--secureGRPCAddr=", "--httpsAddr=",
        f"--httpAddr=127.0.0.1:{http_port}", f"--monitoringAddr=127.0.0.1:{monitoring_port}",
        "--profile=false", "--log_output_level=default:info",
    ], log_dir=run_dir, undo=undo, env=env, cwd=directory, record=record)
    debug_url = f"http://127.0.0.1:{http_port}"
    processes.wait_ready(process, lambda: _ok(f"{debug_url}/ready"), timeout=READY_TIMEOUT_SECONDS,
                         what="GET /ready")
    return Istiod(process, xds_address, debug_url, f"http://127.0.0.1:{monitoring_port}")


def _ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as response:
        return response.status == 200
