"""Every command the kind provider runs, as argv lists (no shell: a quote in a value
stays a quote). Pure, so unit tests pin them exactly; Docker is only needed to run them.
"""

NODE_IMAGES = {
    "1.30": "kindest/node:v1.34.0",
    "1.31": "kindest/node:v1.35.0",
}
"""Istio release line -> the kind node image the run pins (a Kubernetes version that
Istio line supports; pytest-kubernetes' default v1.25.3 is below all of them). One place."""

CLUSTER_PREFIX = "pytest-"
"""pytest-kubernetes prefixes every cluster name with it; our names carry it already so
the name we print is the name kind knows."""

def node_image(istio_version: str) -> str:
    line = ".".join(istio_version.split(".")[:2])
    try:
        return NODE_IMAGES[line]
    except KeyError:
        raise ValueError(f"no kind node image pinned for Istio {istio_version}: use one of "
                         f"{', '.join(sorted(NODE_IMAGES))} (providers/kind/commands.py NODE_IMAGES)") from None


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


def local_image(image: str) -> list[str]:
    """Succeeds when the local Docker has ``image`` (fails with "No such image" otherwise)."""
    return ["docker", "image", "inspect", "--format", "{{.Id}}", image]


def load_image(image: str, cluster: str) -> list[str]:
    return ["kind", "load", "docker-image", image, "--name", cluster]


def docker_available() -> list[str]:
    return ["docker", "info", "--format", "{{.ServerVersion}}"]
