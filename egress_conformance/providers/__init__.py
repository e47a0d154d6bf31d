"""Mesh providers behind one interface: where the mesh under test comes from.

A provider is chosen by name and imported only when chosen, so a machine without
the local mesh's components can still run against an existing cluster.
"""

import importlib

from egress_conformance.providers.base import Provider, ProviderError

PROVIDERS = {
    "local": "egress_conformance.providers.local:LocalProvider",
}
"""Provider name -> "module:class". kind and existing-cluster providers plug in here."""


def create(name: str, options: dict) -> Provider:
    """The provider called ``name``, constructed with ``options``; unknown names list the valid ones."""
    try:
        target = PROVIDERS[name]
    except KeyError:
        raise ProviderError(f"unknown provider {name!r}: choose one of {', '.join(sorted(PROVIDERS))}") from None
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)(options)
