"""Where set-up put each component, recorded for the local provider to find."""

import dataclasses
import json
import pathlib

from egress_conformance import versions
from egress_conformance.install import cache


@dataclasses.dataclass(frozen=True)
class Layout:
    """Paths of the installed components."""

    kubernetes_bin: pathlib.Path
    istio_bin: pathlib.Path
    istio_source: pathlib.Path
    envoy: pathlib.Path

    def binary(self, name: str) -> pathlib.Path:
        """One executable by name (kube-apiserver, etcd, pilot-discovery, envoy, ...)."""
        if name == "envoy":
            return self.envoy
        if name in ("pilot-discovery", "pilot-agent"):
            return self.istio_bin / name
        return self.kubernetes_bin / name

    @property
    def crds(self) -> pathlib.Path:
        return self.istio_source / "manifests" / "charts" / "base" / "files" / "crd-all.gen.yaml"

    @property
    def bootstrap_template(self) -> pathlib.Path:
        return self.istio_source / "tools" / "packaging" / "common" / "envoy_bootstrap.json"


def _file(release: versions.IstioRelease) -> pathlib.Path:
    return cache.root() / f"layout-k8s{versions.KUBERNETES}-istio{release.commit}-envoy{versions.ENVOY}.json"


def save(paths: Layout, release: versions.IstioRelease) -> None:
    """Record the layout of a finished set-up for one Istio release."""
    _file(release).write_text(json.dumps({k: str(v) for k, v in dataclasses.asdict(paths).items()}, indent=2))


def load(release: versions.IstioRelease | None = None) -> Layout | None:
    """The recorded layout for the pinned versions and ``release`` (default: the default
    Istio), or None if that set-up has not completed."""
    try:
        raw = json.loads(_file(release or versions.istio()).read_text())
    except FileNotFoundError:
        return None
    paths = Layout(**{k: pathlib.Path(v) for k, v in raw.items()})
    needed = ("kube-apiserver", "etcd", "pilot-discovery", "pilot-agent", "envoy")
    missing = [name for name in needed if not paths.binary(name).exists()]
    return None if missing else paths
