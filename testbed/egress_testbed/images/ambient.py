"""The images of ambient mode's node components, laid out as their upstream Dockerfiles do:

- ztunnel (istio/ztunnel docker/Dockerfile.ztunnel): the binary in /usr/local/bin, its entrypoint;
- install-cni (istio/istio cni/deployments/kubernetes/Dockerfile.install-cni): the istio-cni plugin
  in /opt/cni/bin (install-cni copies it to the node from there), install-cni in /usr/local/bin,
  on the Debian base (its iptables programs the enrolled pods' capture).

Their names follow the charts: ``<hub>/ztunnel:<tag>`` and ``<hub>/install-cni:<tag>``.
"""

import hashlib
import pathlib
import shutil

from egress_conformance import versions
from egress_testbed import images
from egress_testbed.images import debian, layers, oci
from egress_testbed.install import cache, components, progress, ztunnel
from egress_testbed.install.errors import InstallError

PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def names(release: versions.IstioRelease | None = None) -> dict[str, str]:
    """Role -> pinned image name (the charts' names at the release's tag)."""
    tag = images.istio_tag(release or versions.istio())
    return {"ztunnel": f"{images.HUB}/ztunnel:{tag}", "install-cni": f"{images.HUB}/install-cni:{tag}"}


def build_all(release: versions.IstioRelease | None = None) -> dict[str, pathlib.Path]:
    """Pinned image name -> OCI archive. ztunnel must have been built (ci/setup --ambient);
    istio-cni is built here from the Istio module when missing (a few minutes)."""
    release = release or versions.istio()
    binary = ztunnel.binary()
    if binary is None:
        raise InstallError("ztunnel is not built: run `ci/setup --ambient` first (about 45 min cold, cached after)")
    cni_bin = components.istio_cni(release)
    base = debian.base_layer()
    zt_layer = _layer("ztunnel", ztunnel.key(), {"usr/local/bin/ztunnel": binary})
    cni_layer = _layer("install-cni", release.commit, {
        "opt/cni/bin/istio-cni": cni_bin / "istio-cni",
        "usr/local/bin/install-cni": cni_bin / "install-cni",
    })
    image_names = names(release)
    recipes: dict[str, tuple[list[pathlib.Path], dict[str, object]]] = {
        "ztunnel": ([base, zt_layer], {"Env": [f"PATH={PATH}"], "Entrypoint": ["/usr/local/bin/ztunnel"]}),
        "install-cni": ([base, cni_layer], {"Env": [f"PATH={PATH}:/opt/cni/bin"], "WorkingDir": "/opt/cni/bin",
                                            "Cmd": ["/usr/local/bin/install-cni"]}),
    }
    archives = {}
    for role, (image_layers, config) in recipes.items():
        name = image_names[role]
        key = hashlib.sha256(repr((name, [str(p) for p in image_layers], sorted(config.items()))).encode())
        entry = cache.entry(f"image-{role}", key.hexdigest()[:12])
        archive = entry / "image.tar"
        if not cache.is_complete(entry):
            cache.begin(entry)
            with progress.step(f"image {name}"):
                oci.write_archive(archive, name, image_layers, config)
            cache.finish(entry)
        archives[name] = archive
    return archives


def _layer(role: str, key: str, files: dict[str, pathlib.Path]) -> pathlib.Path:
    def lay_out(root: pathlib.Path) -> None:
        for target, source in files.items():
            (root / target).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, root / target)
            (root / target).chmod(0o755)
        for path in [root, *root.rglob("*")]:
            if path.is_dir():
                path.chmod(0o755)

    return layers.cached(role, key, lay_out)
