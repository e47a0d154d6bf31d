"""Every command the kind provider runs, as argv lists (no shell: a quote in a value
stays a quote), and the CoreDNS edit that points httpbin.org at the simulated external
host. Pure, so unit tests pin them exactly; Docker is only needed to run them.
"""

import re

NODE_IMAGES = {
    "1.30": "kindest/node:v1.34.0",
    "1.31": "kindest/node:v1.35.0",
}
"""Istio release line -> the kind node image the run pins (a Kubernetes version that
Istio line supports; pytest-kubernetes' default v1.25.3 is below all of them). One place."""

CLUSTER_PREFIX = "pytest-"
"""pytest-kubernetes prefixes every cluster name with it; our names carry it already so
the name we print is the name kind knows."""

KIND_NETWORK = "kind"


def node_image(istio_version: str) -> str:
    line = ".".join(istio_version.split(".")[:2])
    try:
        return NODE_IMAGES[line]
    except KeyError:
        raise ValueError(f"no kind node image pinned for Istio {istio_version}: use one of "
                         f"{', '.join(sorted(NODE_IMAGES))} (kindcluster/commands.py NODE_IMAGES)") from None


def create_cluster(name: str, image: str, kubeconfig: str) -> list[str]:
    return ["kind", "create", "cluster", "--name", name, "--kubeconfig", kubeconfig, "--image", image]


def delete_cluster(name: str) -> list[str]:
    return ["kind", "delete", "cluster", "--name", name]


def list_clusters() -> list[str]:
    return ["kind", "get", "clusters"]


def get_kubeconfig(name: str) -> list[str]:
    return ["kind", "get", "kubeconfig", "--name", name]


def export_logs(name: str, directory: str) -> list[str]:
    return ["kind", "export", "logs", directory, "--name", name]


def istioctl_install(istioctl: str, kubeconfig: str) -> list[str]:
    """The minimal profile, with the settings the evidence needs: Envoy's JSON access log
    (the failing step's lines) and an explicit ALLOW_ANY start (the suite records it)."""
    settings = ["profile=minimal", "meshConfig.accessLogFile=/dev/stdout", "meshConfig.accessLogEncoding=JSON",
                "meshConfig.outboundTrafficPolicy.mode=ALLOW_ANY"]
    argv = [istioctl, "install", "--kubeconfig", kubeconfig, "--skip-confirmation"]
    for setting in settings:
        argv += ["--set", setting]
    return argv


CREATED_BY = "app.kubernetes.io/created-by=egress-conformance"
RUN_LABEL = "egress-conformance.run"
"""The run marker on a container: the path of the run's journal (``restore``'s sweep removes a
marked container once that journal is gone: its run can no longer know of it)."""
HOST_LABEL = "egress-conformance.host"
"""The host the run's journal is on: a Docker daemon may serve several machines."""


def run_external_host(container: str, image: str, journal: str, host: str) -> list[str]:
    """The simulated httpbin.org: a plain container on kind's Docker network, outside the
    cluster, so no Service puts its address in the mesh registry; marked with the run's journal."""
    return ["docker", "run", "--detach", "--rm", "--name", container, "--network", KIND_NETWORK,
            "--label", CREATED_BY, "--label", f"{RUN_LABEL}={journal}", "--label", f"{HOST_LABEL}={host}", image]


def list_marked_containers() -> list[str]:
    """Every container with a run marker, running or not: id, marker and host, tab-separated."""
    return ["docker", "ps", "--all", "--no-trunc", "--filter", f"label={RUN_LABEL}", "--format",
            f'{{{{.ID}}}}\t{{{{.Label "{RUN_LABEL}"}}}}\t{{{{.Label "{HOST_LABEL}"}}}}']


def external_host_address(container: str) -> list[str]:
    return ["docker", "inspect", "--format", f"{{{{.NetworkSettings.Networks.{KIND_NETWORK}.IPAddress}}}}", container]


def remove_container(container: str) -> list[str]:
    return ["docker", "rm", "--force", container]


def docker_available() -> list[str]:
    return ["docker", "info", "--format", "{{.ServerVersion}}"]


_SERVER_BLOCK = re.compile(r"^(\.:53\s*\{\s*\n)", re.MULTILINE)


def corefile_with_hosts(corefile: str, address: str, names: tuple[str, ...]) -> str:
    """The Corefile with a ``hosts`` block for ``names`` at the top of the root zone, as
    Istio's own kind CI does; ``fallthrough`` keeps every other name resolving as before.
    Restoring is writing the original text back."""
    if not _SERVER_BLOCK.search(corefile):
        raise ValueError("the CoreDNS Corefile has no '.:53 {' block to add the simulated host to")
    block = f"    hosts {{\n       {address} {' '.join(names)}\n       fallthrough\n    }}\n"
    return _SERVER_BLOCK.sub(lambda m: m.group(1) + block, corefile, count=1)
