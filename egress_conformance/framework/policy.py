"""The test's outbound policy: read it, change it in the test's scope (mesh-wide or the test
namespace, framework/scope.py) with its undo registered at once, and expect its read-back
through the API. Each read-back is a step of the record."""

import contextlib
import logging
from collections.abc import Iterator

from egress_conformance.changes import cleanup
from egress_conformance.cluster import meshconfig
from egress_conformance.framework import effective, scope
from egress_conformance.framework.context import RunContext
from egress_conformance.framework.recorder import Recorder, now

log = logging.getLogger("egress")


class Policy:
    """The outbound policy in the test's scope, as the API holds it."""

    def __init__(self, context: RunContext, record: Recorder, scope_name: str = scope.MESH_WIDE):
        self._context, self._record = context, record
        mesh = scope.MeshWide(context.api, context.mesh_config_map(), context.journal, context.undo)
        self.scope: scope.Scope = mesh if scope_name == scope.MESH_WIDE else scope.Namespace(
            context.api, context.namespace, mesh, context.create)
        """Where policy changes land (scope.MeshWide or scope.Namespace)."""
        self._start: str | None = None

    def confine_to_namespace(self) -> None:
        """From now on, changes land in the test namespace (a Sidecar, ServiceEntries exported to it
        alone) whatever the test's own scope: a team's egress as a platform team keeps it."""
        if not isinstance(self.scope, scope.Namespace):
            self.scope = scope.Namespace(self._context.api, self._context.namespace, self.scope,
                                         self._context.create)

    def where(self) -> str:
        """What holds the policy in the test's scope, for step names and log lines."""
        return self.scope.where()

    def set(self, policy: str) -> cleanup.Undo:
        """Set the outbound policy in the test's scope; the API read-back must agree. Returns the restore."""
        restore = self.scope.set_policy(policy)
        self.expect_configured(policy)
        log.info(self.scope.message(policy))
        return restore

    @contextlib.contextmanager
    def restricted(self, policy: str) -> Iterator[str]:
        """The bracket around a walkthrough, the framework's (Scenario.restricts): the starting
        policy recorded (once), ``policy`` set with its undo registered at once; on the way out,
        restored and the starting policy read back. Yields the starting policy. On a failure the
        test's cleanup stack restores it (nothing here runs then: the evidence comes first)."""
        start = self._start if self._start is not None else self.starting()
        change = self.set(policy)
        yield start
        log.info("clean up: %s", change.description)
        change.run()
        self.expect_configured(start)

    def starting(self) -> str:
        """The policy configured when the test began: a mesh may start restricted by its
        owners' choice, which is a fact to record, not a failure."""
        policy = self._start = self.scope.configured_policy()
        self._record.observed(f"API: starting policy in {self.scope.where()}", f"read {policy}",
                              evidence=f"outboundTrafficPolicy.mode: {policy}", started=now())
        log.info("starting policy (%s): %s", self.scope.where(), policy)
        return policy

    def log(self) -> None:
        """Print the configured policy the way the seed's tool does."""
        log.info(self.scope.message(self.scope.configured_policy()))

    def expect_configured(self, policy: str) -> None:
        """The policy configured in the test's scope, read back through the API, is ``policy``."""
        __tracebackhide__ = True
        self._expect_read_back(self.scope.where(), self.scope.configured_policy(), policy)

    def expect_mesh(self, policy: str) -> None:
        """The mesh ConfigMap, read back through the API, sets ``policy`` (whatever the scope)."""
        __tracebackhide__ = True
        namespace, name = self._context.mesh_config_map()
        self._expect_read_back(f"mesh config {namespace}/{name}", meshconfig.policy_of(self.mesh_config()), policy)

    def _expect_read_back(self, where: str, actual: str, policy: str) -> None:
        __tracebackhide__ = True
        self._record.judged(f"API: {where} sets {policy}", actual == policy, f"read back {actual}",
                            evidence=f"outboundTrafficPolicy.mode: {actual}", started=now())
        assert actual == policy, f"API read-back: {where} sets {actual}, expected {policy}"

    def egress(self) -> effective.Egress:
        """The test namespace's egress as the API holds it (policy and who sets it, the ServiceEntries
        it sees, EnvoyFilters), recorded as a step of its own."""
        namespace = self._context.namespace
        found = effective.read(self._context.api, namespace, self._context.mesh_config_map())
        lines = found.lines()
        self._record.observed(f"API: egress of namespace {namespace}", lines[0], evidence="\n".join(lines))
        log.info("egress of namespace %s:\n       %s", namespace, "\n       ".join(lines))
        return found

    def mesh_config(self) -> str:
        """The current ``mesh`` text of the mesh ConfigMap."""
        return meshconfig.read(self._context.api, self._context.mesh_config_map())
