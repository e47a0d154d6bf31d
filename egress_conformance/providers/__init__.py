"""Mesh providers behind one interface: where the mesh under test comes from.

A provider is chosen by name and imported only when chosen, so a machine without
the local mesh's components can still run against an existing cluster. The run's
options (run/options.py) read this registry and ``options.OPTIONS``.
"""

import importlib

from egress_conformance.changes import journal
from egress_conformance.hosts import targets
from egress_conformance.providers.base import Provider, ProviderError

PROVIDERS = {
    "local": "egress_conformance.providers.local.provider:LocalProvider",
    "existing": "egress_conformance.providers.existing.provider:ExistingProvider",
    "kind": "egress_conformance.providers.kind.provider:KindProvider",
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


def know_journal_entry_types() -> None:
    """Let the journal read every provider's entry types: a journal left by a killed run may
    hold any provider's changes."""
    for name in PROVIDERS:
        journal.register(get(name).journal_entry_types())


def create(name: str, options: object, run_targets: targets.Targets) -> Provider:
    """The provider called ``name``, constructed with its own ``options`` (its parse_options'
    dataclass) and the run's external targets."""
    return get(name)(options, run_targets)
