"""What a scenario works with: ``t``, one per test, bound to the mesh under test, made of one
part per concern (as cilium's connectivity check splits its context, test and action):

- ``t.context``: the run it belongs to (provider, API, hosts, timing), read-only;
- ``t.policy``: the outbound policy in the test's scope, changed with its undo registered;
- ``t.resources``: what the test creates, each undo registered the moment it is created;
- ``t.client`` and ``t.pod(p)``: requests and the waits on them, each verdict with its evidence;
- ``t.record``: the test's steps and findings, for the report.

Every expectation waits for several consistent observations of the sidecar's state and of a
real request from the meshed workload.
"""

from egress_conformance.changes import cleanup
from egress_conformance.changes.journal import Journal
from egress_conformance.framework import scope
from egress_conformance.framework.actions import Client, GatewayView, Pod, Waiter
from egress_conformance.framework.context import RunContext
from egress_conformance.framework.policy import Policy
from egress_conformance.framework.recorder import Recorder
from egress_conformance.framework.resources import Resources
from egress_conformance.hosts.targets import Targets
from egress_conformance.providers.base import Provider, Workload
from egress_conformance.reports.model import Step
from egress_conformance.timing import Timing


class EgressTest:
    """The scenario's handle on the mesh: change it, then expect what a workload sees."""

    def __init__(self, provider: Provider, undo: cleanup.Stack, timing: Timing, journal: Journal,
                 scope_name: str = scope.MESH_WIDE):
        self.context = RunContext.of(provider, undo, timing, journal)
        self.record = Recorder()
        self._gateway = GatewayView()
        self._waiter = Waiter(self.context, self.record)
        self.policy = Policy(self.context, self.record, scope_name)
        self.client = Client(self.context, self._waiter, self._gateway)
        """The meshed client: its requests, with its sidecar read around each."""
        self.resources = Resources(self.context, self.record, self.policy, self.client, self._gateway)

    def pod(self, pod: Workload) -> Pod:
        """Requests from another pod of the test (resources.start_pod), judged as the client's are."""
        return Pod(self.context, self._waiter, self._gateway, pod)

    @property
    def targets(self) -> Targets:
        """The external hosts of this run (hosts/targets.py): the walkthrough's host, the allow-list."""
        return self.context.targets

    @property
    def namespace(self) -> str:
        """The test namespace (the client's)."""
        return self.context.namespace

    @property
    def provider(self) -> Provider:
        """The mesh under test, through its provider's interface."""
        return self.context.provider

    @property
    def steps(self) -> list[Step]:
        """What the test did and saw, step by step (the recorder's; read it, record through ``t.record``)."""
        return self.record.steps

    @property
    def findings(self) -> list[str]:
        """What the test found about the mesh beyond its verdicts (record through ``t.record.finding``)."""
        return self.record.findings
