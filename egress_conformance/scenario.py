"""A conformance scenario as data: a short name, what it proves, what it needs, and one function."""

import dataclasses
import pathlib
from collections.abc import Callable

CORE = "core"
EXTENDED = "extended"


@dataclasses.dataclass(frozen=True)
class Scenario:
    """One scenario: ``run(t)`` holds only the flow; the suite supplies ``t``."""

    name: str
    description: str
    profile: str
    features: frozenset[str]
    run: Callable[..., None]
    """The flow, given the suite's EgressTest ``t``."""
    manifests: pathlib.Path | None = None
    """Directory of the scenario's manifests (its YAML files are listed in the report)."""
