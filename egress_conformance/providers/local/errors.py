"""Errors of the local mesh: each one line, saying what went wrong and what to do."""

from egress_conformance.providers.base import ProviderError


class LocalMeshError(ProviderError):
    """The local mesh could not be started or kept running; str(err) says what to do."""


class ComponentCrashed(LocalMeshError):
    """A component process of the local mesh exited while the run needed it."""
