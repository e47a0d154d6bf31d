"""The meshed client pod: a network namespace with pilot-agent and Envoy as uid 1337,
Istio's own iptables capture, and a client uid whose requests that capture redirects.

pilot-agent runs with Istio's stock bootstrap template, serves SDS itself from
files (the SPIFFE credentials written here), and reaches istiod over plaintext
xDS with no token, as BRIEF section 3 describes.
"""

import dataclasses
import os
import pathlib
import shutil

from egress_conformance import pki
from egress_conformance.changes import cleanup
from egress_conformance.installed import Layout
from egress_conformance.providers.local import netns, processes
from egress_conformance.providers.local.errors import LocalMeshError
from egress_conformance.verdicts import envoy

PROXY_UID = 1337
"""Envoy's uid: the capture rules let this uid's traffic out untouched."""

CLIENT_UID = 1001
"""The application's uid: its outbound traffic is captured into Envoy."""

ADMIN_PORT = 15000
READY_TIMEOUT_SECONDS = 90.0


@dataclasses.dataclass(frozen=True)
class Sidecar:
    namespace: netns.Namespace
    pod_ip: str
    directory: pathlib.Path
    agent: processes.Process

    @property
    def log(self) -> pathlib.Path:
        """pilot-agent's log, which also holds Envoy's access log (/dev/stdout)."""
        return self.agent.log


def start(
    layout: Layout,
    namespace: netns.Namespace,
    *,
    pod_ip: str,
    pod_name: str,
    pod_namespace: str,
    discovery_address: str,
    workload_ca: pki.KeyPair,
    run_dir: pathlib.Path,
    undo: cleanup.Stack,
    record,
) -> Sidecar:
    """Capture the namespace's traffic and start pilot-agent (and so Envoy) inside it."""
    directory = run_dir / "pod"
    _prepare_files(layout, directory, workload_ca, pod_namespace)
    _capture(layout, namespace)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(directory),
        "PROXY_CONFIG": _proxy_config(directory, discovery_address),
        "INSTANCE_IP": pod_ip,
        "POD_NAME": pod_name,
        "POD_NAMESPACE": pod_namespace,
        "SERVICE_ACCOUNT": "default",
        "TRUST_DOMAIN": "cluster.local",
        "ISTIO_META_CLUSTER_ID": "Kubernetes",
        "ISTIO_META_INTERCEPTION_MODE": "REDIRECT",
        "ISTIO_META_WORKLOAD_NAME": pod_name,
        "ISTIO_META_APP_CONTAINERS": "client",
        "ISTIO_META_OWNER": f"kubernetes://apis/v1/namespaces/{pod_namespace}/pods/{pod_name}",
        "ISTIO_METAJSON_LABELS": '{"app": "client"}',
    }
    agent = processes.start(
        "pilot-agent",
        namespace.argv([str(directory / "pilot-agent"), "proxy", "sidecar", "--proxyLogLevel=warning",
                        "--log_output_level=default:info"], uid=PROXY_UID),
        log_dir=run_dir, undo=undo, env=env, cwd=directory, record=record, log_owner=PROXY_UID,
    )
    processes.wait_ready(
        agent,
        lambda: namespace.run(["curl", "-sf", "-o", "/dev/null", "http://127.0.0.1:15021/healthz/ready"],
                              timeout=5).returncode == 0,
        timeout=READY_TIMEOUT_SECONDS, what="Envoy /healthz/ready on 15021 (config received from istiod)",
    )
    return Sidecar(namespace, pod_ip, directory, agent)


def _prepare_files(layout: Layout, directory: pathlib.Path, workload_ca: pki.KeyPair, pod_namespace: str) -> None:
    # Envoy runs as uid 1337, which must read everything it is pointed at.
    credentials = directory / "var" / "run" / "secrets" / "workload-spiffe-credentials"
    credentials.mkdir(parents=True)
    (directory / "etc" / "istio" / "proxy").mkdir(parents=True)
    identity = pki.leaf(credentials, "workload", workload_ca, "client",
                        uris=(f"spiffe://cluster.local/ns/{pod_namespace}/sa/default",))
    identity.cert.rename(credentials / "cert-chain.pem")
    identity.key.rename(credentials / "key.pem")
    shutil.copyfile(workload_ca.cert, credentials / "root-cert.pem")
    shutil.copyfile(layout.bootstrap_template, directory / "envoy_bootstrap.json")
    for name in ("pilot-agent", "envoy"):
        shutil.copy2(layout.binary(name), directory / name)
    for path in [directory, *directory.rglob("*")]:
        os.chown(path, PROXY_UID, PROXY_UID)


def _capture(layout: Layout, namespace: netns.Namespace) -> None:
    """Istio's own iptables rules, as istio-init installs them in a pod."""
    result = namespace.run([
        str(layout.binary("pilot-agent")), "istio-iptables", "-p", "15001", "-z", "15006", "-u", str(PROXY_UID),
        "-m", "REDIRECT", "-i", "*", "-x", "", "-b", "*", "-d", "15090,15021,15020",
    ], timeout=60)
    if result.returncode != 0:
        tail = (result.stdout + result.stderr).strip().splitlines()[-3:]
        raise LocalMeshError(f"istio-iptables failed in {namespace.name}: {' | '.join(tail)}; "
                             "the local mesh needs root and the iptables command (run ci/setup)")


def _proxy_config(directory: pathlib.Path, discovery_address: str) -> str:
    return "\n".join([
        f"discoveryAddress: {discovery_address}",
        "controlPlaneAuthPolicy: NONE",
        f"binaryPath: {directory / 'envoy'}",
        f"configPath: {directory / 'etc' / 'istio' / 'proxy'}",
        f"proxyBootstrapTemplatePath: {directory / 'envoy_bootstrap.json'}",
        "concurrency: 1",
        "drainDuration: 1s",
        "terminationDrainDuration: 1s",
        f"proxyAdminPort: {ADMIN_PORT}",
        "statusPort: 15020",
        # Istio's bootstrap keeps only a few stats; these counters are the evidence of which path
        # a request took and who refused it (the existing provider's client pod asks for the same).
        "proxyStatsMatcher:",
        f"  inclusionPrefixes: [{', '.join(envoy.STATS_INCLUSION_PREFIXES)}]",
    ]) + "\n"
