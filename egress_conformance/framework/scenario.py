"""A conformance scenario as data: a short name, what it proves, what it needs, and one function."""

import dataclasses
import enum
import pathlib
from collections.abc import Callable

from egress_conformance.framework import profiles, scope
from egress_conformance.framework.handle import EgressTest
from egress_conformance.hosts.targets import Targets
from egress_conformance.providers import features

CORE, EXTENDED, GATEWAY = (p.name for p in profiles.ALL)
"""The conformance profiles' names (framework/profiles.py: each a set of features)."""


class Mode(enum.StrEnum):
    """How a scenario is run: as part of a conformance profile (``egress-conformance run``), or by
    a command of its own: the read-only audit of a namespace, or the broken-mesh matrix. A report
    groups an audit's or a matrix's tests under the command's name, where a profile's would be."""

    CONFORMANCE = "conformance"
    AUDIT = "audit"
    """Read-only: the mesh as it is, against the team's allow-list (egress-conformance audit)."""
    MATRIX = "matrix"
    """Every shape of the catalogue must make the audit fail with the right diagnosis (egress-conformance matrix)."""


AUDIT, MATRIX = Mode.AUDIT.value, Mode.MATRIX.value


@dataclasses.dataclass(frozen=True)
class Scenario:
    """One scenario: ``run(t)`` holds only the flow; the suite supplies ``t``."""

    name: str
    description: str
    features: frozenset[str]
    run: Callable[[EgressTest], None]
    """The flow, given the suite's EgressTest ``t``."""
    mode: Mode = Mode.CONFORMANCE
    manifests: pathlib.Path | None = None
    """Directory of the scenario's manifests (its YAML files are listed in the report)."""
    scopes: tuple[str, ...] = (scope.MESH_WIDE,)
    """Where its policy changes can land (scope.py); the first is the scenario's own form."""
    scope: str = ""
    """The scope of this test case (set by variants())."""
    restricts: str | None = None
    """The outbound policy the framework sets around ``run`` in the test's scope (policy.restricted:
    the starting policy recorded, this one set, then restored and read back), so that ``run``
    holds only the walkthrough; None: ``run`` changes the policy itself, if at all."""
    writes_outside: str = ""
    """What its flow writes outside the test namespace whatever its scope (e.g. an object only the
    shared egress gateway's namespace takes); "" for none. Such a write changes another team's
    namespace, so every form of the scenario needs --allow-mesh-wide-changes and the mesh Lease
    (tests/unit/test_scenario_scope.py derives it from the flow's writes)."""
    hosts: Callable[[Targets], tuple[str, ...]] = lambda targets: (targets.host, *targets.aliases,
                                                                   *targets.unlisted)
    """The run's hosts this scenario expects blocked before it opens any: a mesh that already
    opens one (someone's ServiceEntry) makes the scenario "not run" (framework/preexisting.py)."""

    profile: str = ""
    """Derived, never written: the smallest conformance profile whose features cover the declared
    scenario's (framework/profiles.py), kept by its variants; an audit's or matrix's: the mode's name."""

    def __post_init__(self) -> None:
        if not self.profile:
            derived = self.mode.value if self.mode != Mode.CONFORMANCE else profiles.covering(self.features).name
            object.__setattr__(self, "profile", derived)

    def execute(self, t: EgressTest) -> None:
        """Run the scenario on ``t`` as the suite does: ``run`` inside its policy bracket, if any."""
        if self.restricts is None:
            self.run(t)
            return
        with t.policy.restricted(self.restricts):
            self.run(t)

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
