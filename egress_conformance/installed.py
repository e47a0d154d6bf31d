"""Where set-up put each component of the local mesh, as the local provider reads it.

The test bed (testbed/, ``egress_testbed.install``) builds the components into the cache
and records their paths in one file per release (``record``); this module is the suite's
whole knowledge of that: the cache's place, the file's name and what it holds. The suite
never builds anything, so its wheel carries no builder.
"""

import dataclasses
import json
import os
import pathlib

from egress_conformance import versions


def cache_root() -> pathlib.Path:
    """The cache directory: $EGRESS_CONFORMANCE_CACHE, else /var/cache/egress-conformance
    for root (the local mesh runs Envoy as uid 1337, which cannot enter /root), else
    ~/.cache/egress-conformance."""
    configured = os.environ.get("EGRESS_CONFORMANCE_CACHE")
    if configured:
        return pathlib.Path(configured)
    if os.geteuid() == 0:
        return pathlib.Path("/var/cache/egress-conformance")
    return pathlib.Path.home() / ".cache" / "egress-conformance"


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


def record(release: versions.IstioRelease) -> pathlib.Path:
    """The file that records the layout of a finished set-up for the pinned versions and ``release``."""
    return cache_root() / f"layout-k8s{versions.KUBERNETES}-istio{release.commit}-envoy{versions.ENVOY}.json"


def load(release: versions.IstioRelease | None = None) -> Layout | None:
    """The recorded layout for the pinned versions and ``release`` (default: the default
    Istio), or None if that set-up has not completed."""
    try:
        raw = json.loads(record(release or versions.istio()).read_text())
    except FileNotFoundError:
        return None
    paths = Layout(**{k: pathlib.Path(v) for k, v in raw.items()})
    needed = ("kube-apiserver", "etcd", "pilot-discovery", "pilot-agent", "envoy")
    missing = [name for name in needed if not paths.binary(name).exists()]
    return None if missing else paths
