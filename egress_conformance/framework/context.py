"""The run-wide context one test works in: the mesh under test (its provider and API), the
run's hosts, its timing, and where the test's changes are journaled and undone. Read-only for
scenarios; the test's other parts (framework/handle.py) are built on it."""

import dataclasses

from kubernetes import client

from egress_conformance.changes import cleanup, objects
from egress_conformance.changes.journal import Journal
from egress_conformance.hosts.targets import Targets
from egress_conformance.providers.base import Provider, Workload
from egress_conformance.timing import Timing


@dataclasses.dataclass
class RunContext:
    """The mesh and the run one test is bound to (the benchmarks swap its timing and workload to
    measure them; scenarios only read it)."""

    provider: Provider
    undo: cleanup.Stack
    """The test's own cleanup stack: every change registers its undo here the moment it succeeds."""
    journal: Journal
    timing: Timing
    api: client.ApiClient
    targets: Targets
    """The external hosts of this run (hosts/targets.py): the walkthrough's host, the allow-list."""
    workload: Workload
    """The meshed client the requests come from, its sidecar read around each observation."""

    @classmethod
    def of(cls, provider: Provider, undo: cleanup.Stack, timing: Timing, journal: Journal) -> "RunContext":
        return cls(provider, undo, journal, timing, provider.api(), provider.targets, provider.workload())

    @property
    def namespace(self) -> str:
        """The test namespace (the client's)."""
        return self.workload.namespace

    def mesh_config_map(self) -> tuple[str, str]:
        """(namespace, name) of the ConfigMap whose ``mesh`` key istiod reads."""
        return self.provider.mesh_config_map()

    def create(self, obj: dict) -> cleanup.Undo:
        """Create one object, journaled, with its undo registered."""
        return objects.create(self.api, obj, self.undo, self.journal)
