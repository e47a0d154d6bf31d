"""The single-node cluster's own components, built from the module proxies and cached
by version: containerd and runc (the runtime), kubelet, kube-proxy and kube-scheduler
(a separate entry from the local mesh's "kubernetes" one, same wrapper), CoreDNS
(a small main with only the plugins the node uses), and the Debian packages they need.
"""

import dataclasses
import hashlib
import pathlib
import subprocess

from egress_conformance import versions
from egress_testbed.install import cache, components, debian, gobuild, progress
from egress_testbed.install.errors import InstallError

CONTAINERD = "v2.4.2"
"""github.com/containerd/containerd/v2 release (2.x: CRI v1, config version 3)."""

RUNC = "v1.5.3"
"""github.com/opencontainers/runc release; from 1.4 on its go.mod has no replace
directive (1.3.x replaces go-selinux with a vendored copy, which a wrapper cannot follow)."""

COREDNS = "v1.14.7"
"""github.com/coredns/coredns release."""

DEBIAN_PACKAGES = ("libseccomp-dev", "containernetworking-plugins", "conntrack", "gcc", "debootstrap", "ipset")
"""runc links libseccomp through cgo; the CNI bridge, host-local, loopback and portmap
plugins; conntrack lets kube-proxy flush stale UDP entries; debootstrap builds the node
images' Debian base (testbed/egress_testbed/images); kube-router's NetworkPolicy firewall runs the
ipset tool (netpol.py)."""

CNI_BIN = pathlib.Path("/usr/lib/cni")
"""Where Debian's containernetworking-plugins puts the plugins."""

COREDNS_PLUGINS = ("bind", "errors", "log", "health", "ready", "kubernetes", "hosts", "rewrite", "template",
                   "forward", "cache", "loop", "reload", "loadbalance")
"""Only the plugins a cluster's Corefile uses (the full set pulls every cloud SDK and
builds several times slower). Their order in the DNS chain comes from CoreDNS's own
directive list, not from this tuple."""


@dataclasses.dataclass(frozen=True)
class NodeBinaries:
    """Bin directories of the node's components."""

    containerd_bin: pathlib.Path
    runc_bin: pathlib.Path
    kubernetes_bin: pathlib.Path
    coredns_bin: pathlib.Path
    cni_bin: pathlib.Path = CNI_BIN

    def binary(self, name: str) -> pathlib.Path:
        """One executable by name (containerd, ctr, runc, kubelet, coredns, ...)."""
        for directory in (self.containerd_bin, self.runc_bin, self.kubernetes_bin, self.coredns_bin):
            if (directory / name).exists():
                return directory / name
        raise InstallError(f"{name} is not among the node's built components: run `ci/node up` again")


def ensure_debian_packages() -> None:
    """Install the node's Debian packages that are missing (needs root and apt)."""
    missing = [pkg for pkg in DEBIAN_PACKAGES if not _installed(pkg)]
    if not missing:
        progress.say(f"debian packages: {', '.join(DEBIAN_PACKAGES)} present")
        return
    debian.apt_install(missing)


def _installed(package: str) -> bool:
    result = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True)
    return result.returncode == 0 and result.stdout.endswith("installed")


def containerd() -> pathlib.Path:
    """containerd, ctr and the runc shim, without cgo (so no btrfs snapshotter, which the
    node does not use: it runs on overlayfs)."""
    module = "github.com/containerd/containerd/v2"
    return gobuild.build(
        name="containerd",
        version=CONTAINERD,
        requires={module: CONTAINERD},
        replaces={},
        packages={"no_btrfs,no_devmapper,no_zfs": [
            f"{module}/cmd/containerd", f"{module}/cmd/ctr", f"{module}/cmd/containerd-shim-runc-v2",
        ]},
        ldflags=f"-X {module}/version.Version={CONTAINERD} -X {module}/version.Package={module}",
        env={"CGO_ENABLED": "0"},
    )


def runc() -> pathlib.Path:
    """runc with seccomp (cgo, libseccomp from Debian)."""
    return gobuild.build(
        name="runc",
        version=RUNC,
        requires={"github.com/opencontainers/runc": RUNC},
        replaces={},
        packages={"seccomp": ["github.com/opencontainers/runc"]},
        ldflags=f"-X main.version={RUNC.lstrip('v')}",
        env={"CGO_ENABLED": "1"},
    )


def kubernetes_node() -> pathlib.Path:
    """kubelet, kube-proxy and kube-scheduler from the same wrapper as the local mesh's
    "kubernetes" entry, cached apart so that entry's key never changes."""
    version = versions.KUBERNETES
    cached = gobuild.cached("kubernetes-node", version)
    if cached:
        return cached
    staging = gobuild.staging_modules(gobuild.download_gomod(components.KUBERNETES_MODULE, version))
    return gobuild.build(
        name="kubernetes-node",
        version=version,
        requires={components.KUBERNETES_MODULE: version},
        replaces={module: "v0" + version[2:] for module in staging},
        packages={"": [
            "k8s.io/kubernetes/cmd/kubelet",
            "k8s.io/kubernetes/cmd/kube-proxy",
            "k8s.io/kubernetes/cmd/kube-scheduler",
        ]},
        ldflags=components.kubernetes_version_ldflags(version),
        env={"CGO_ENABLED": "0"},
    )


def _coredns_version() -> str:
    # The plugin set is part of the cache key: a changed set is a different build.
    return f"{COREDNS}-{hashlib.sha256(' '.join(COREDNS_PLUGINS).encode()).hexdigest()[:8]}"


def coredns() -> pathlib.Path:
    """CoreDNS with only COREDNS_PLUGINS."""
    module = "github.com/coredns/coredns"
    imports = "\n".join(f'\t_ "{module}/plugin/{name}"' for name in COREDNS_PLUGINS)
    main = (f'package main\n\nimport (\n\t"{module}/coremain"\n{imports}\n)\n\n'
            "func main() {\n\tcoremain.Run()\n}\n")
    return gobuild.build(
        name="coredns",
        version=_coredns_version(),
        requires={module: COREDNS},
        replaces={},
        packages={"": ["./coredns"]},
        ldflags=f"-X {module}/coremain.GitCommit={COREDNS}",
        env={"CGO_ENABLED": "0"},
        sources={"coredns/main.go": main},
    )


def cached() -> NodeBinaries | None:
    """The node's components if every one is already built (nothing is built here), else None."""
    entries = [cache.entry("containerd", CONTAINERD), cache.entry("runc", RUNC),
               cache.entry("kubernetes-node", versions.KUBERNETES), cache.entry("coredns", _coredns_version())]
    if not all(cache.is_complete(e) for e in entries):
        return None
    return NodeBinaries(*(e / "bin" for e in entries))


def build_all() -> NodeBinaries:
    """Every node component, built or taken from the cache (runtime first: it is smallest)."""
    ensure_debian_packages()
    return NodeBinaries(
        containerd_bin=containerd(),
        runc_bin=runc(),
        coredns_bin=coredns(),
        kubernetes_bin=kubernetes_node(),
    )


if __name__ == "__main__":
    build_all()
