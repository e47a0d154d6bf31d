"""Mesh providers behind one interface: where the mesh under test comes from.

A provider is chosen by name and imported only when chosen, so a machine without
the local mesh's components can still run against an existing cluster. The CLI and
the pytest plugin both read this registry and ``options.OPTIONS``.
"""

import importlib

from egress_conformance import targets
from egress_conformance.providers import options
from egress_conformance.providers.base import Provider, ProviderError

PROVIDERS = {
    "local": "egress_conformance.providers.local.provider:LocalProvider",
    "existing": "egress_conformance.providers.existing:ExistingProvider",
    "kind": "egress_conformance.providers.kind:KindProvider",
}
"""Provider name -> "module:class"."""

DEFAULT = "local"
"""With no cluster given, the suite brings up its own local mesh; a cluster is never used unless chosen."""


def get(name: str) -> type[Provider]:
    """The provider class called ``name``; unknown names list the valid ones."""
    try:
        target = PROVIDERS[name]
    except KeyError:
        raise ProviderError(f"unknown provider {name!r}: choose one of {', '.join(sorted(PROVIDERS))}") from None
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)


def create(name: str, options: dict) -> Provider:
    """The provider called ``name``, constructed with its ``options``."""
    return get(name)(options)


def parse_options(name: str, value_of) -> dict:
    """The options of provider ``name`` (read with ``value_of(dest)``), checked and converted,
    with the run's external targets under "targets"; raises options.OptionError with one line."""
    values = options.chosen(name, value_of)
    parsed = get(name).parse_options(values)
    try:
        parsed["targets"] = targets.from_options(values)
    except targets.TargetError as err:
        raise options.OptionError(str(err)) from None
    return parsed
