"""A conformance scenario as data: a short name, what it proves, what it needs, and one function."""

import dataclasses
import pathlib
from collections.abc import Callable

from egress_conformance.framework import scope
from egress_conformance.hosts.targets import Targets
from egress_conformance.providers import features

CORE = "core"
EXTENDED = "extended"
GATEWAY = "gateway"
"""Egress the way platform teams build it: through an egress gateway (feature egress-gateway)."""
AUDIT = "audit"
"""Read-only: the mesh as it is, against the team's allow-list (egress-conformance audit)."""
MATRIX = "matrix"
"""The broken-mesh matrix: every shape of the catalogue must make the audit fail with the right diagnosis."""


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
    scopes: tuple[str, ...] = (scope.MESH_WIDE,)
    """Where its policy changes can land (scope.py); the first is the scenario's own form."""
    scope: str = ""
    """The scope of this test case (set by variants())."""
    writes_outside: str = ""
    """What its flow writes outside the test namespace whatever its scope (e.g. an object only the
    shared egress gateway's namespace takes); "" for none. Such a write changes another team's
    namespace, so every form of the scenario needs --allow-mesh-wide-changes and the mesh Lease
    (tests/unit/test_scenario_scope.py derives it from the flow's writes)."""
    hosts: Callable[[Targets], tuple[str, ...]] = lambda targets: (targets.host, *targets.aliases,
                                                                   *targets.unlisted)
    """The run's hosts this scenario expects blocked before it opens any: a mesh that already
    opens one (someone's ServiceEntry) makes the scenario "not run" (framework/preexisting.py)."""

    @property
    def claimed_scope(self) -> str:
        """The scope a report counts this test case under: what it writes decides, so a form that
        writes into another team's namespace is a mesh-wide claim whatever its policy's scope."""
        return scope.MESH_WIDE if self.writes_outside else self.scope

    def variants(self) -> list["Scenario"]:
        """One test case per scope. The first keeps the name; the namespace-scoped form of a
        mesh-wide scenario is '<name>-in-namespace' and needs a Sidecar instead of the mesh config."""
        cases = []
        for index, where in enumerate(self.scopes):
            name, needs = self.name, self.features
            if index and where == scope.NAMESPACE:
                name = f"{self.name}-in-namespace"
                needs = (needs - {features.MESH_WIDE_POLICY}) | {features.SIDECAR_SCOPED_POLICY}
            cases.append(dataclasses.replace(self, name=name, features=needs, scope=where))
        return cases
