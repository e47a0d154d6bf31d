"""The mesh of one run, held from start to end: the one start-up used by the pytest
fixtures and by the benchmarks alike. Everything it started is undone on exit (on pass, on
failure, on Ctrl-C and on SIGTERM, turned into KeyboardInterrupt), unless the run keeps it."""

import contextlib
import dataclasses
import logging
from collections.abc import Iterator

from egress_conformance import providers
from egress_conformance.changes import cleanup, journal
from egress_conformance.framework import scope
from egress_conformance.framework.handle import EgressTest
from egress_conformance.providers.base import Provider, ProviderError
from egress_conformance.run import interrupts
from egress_conformance.run.options import RunOptions
from egress_conformance.timing import Timing

log = logging.getLogger("egress")


class NotRun(Exception):
    """The mesh was never reached; str(err) is one line that says what to do."""


@dataclasses.dataclass(frozen=True)
class Mesh:
    """A started mesh: its provider, the run's journal of changes to its cluster, the run's timing."""

    provider: Provider
    journal: journal.Journal
    timing: Timing
    keep: bool = False


@contextlib.contextmanager
def mesh(options: RunOptions) -> Iterator[Mesh]:
    """Bring up (or connect to) the mesh ``options`` name; raise NotRun when it cannot be reached."""
    providers.know_journal_entry_types()
    try:
        unrestored = journal.pending()
    except journal.JournalError as err:
        raise NotRun(str(err)) from None
    if unrestored:
        raise NotRun("an earlier run left changes unrestored (" + journal.describe(unrestored[0]) + "); run "
                     "`egress-conformance restore` (or `egress-conformance restore --discard`) first")
    undo = cleanup.Stack()
    previous = interrupts.install()
    started = None
    try:
        try:
            if not options.prepared:
                providers.get(options.provider).prepare(options.provider_options)
            provider = providers.create(options.provider, options.provider_options, options.targets)
            log.info("bringing up the %s mesh ...", options.provider)
            run_journal = journal.Journal()
            provider.start(undo, run_journal)
        except (ProviderError, journal.ClusterBusy) as err:
            raise NotRun(str(err)) from None
        started = Mesh(provider, run_journal, options.timing, options.keep)
        yield started
    finally:
        try:
            if started and options.keep:
                log.info("kept the %s mesh as it is (--keep): kubeconfig %s; `egress-conformance restore` undoes "
                         "what the run changed (and stops a local mesh)", options.provider,
                         started.provider.cluster()["kubeconfig"])
            else:
                with interrupts.deferred():
                    if started:
                        log.info("tearing down the %s mesh ...", options.provider)
                    try:
                        undo.close()
                    finally:
                        log.info("mesh torn down")
        finally:
            interrupts.restore(previous)


@contextlib.contextmanager
def test_context(held: Mesh, scope_name: str = scope.MESH_WIDE) -> Iterator[EgressTest]:
    """One test's handle ``t`` with its own cleanup stack, closed on exit (pass or fail) unless
    the run keeps its changes. A test must leave the mesh config byte for byte as it found it:
    checked here, after its undo, for every scenario."""
    undo = cleanup.Stack()
    t = EgressTest(held.provider, undo, held.timing, held.journal, scope_name)
    original = t.policy.mesh_config()
    try:
        yield t
    finally:
        if not held.keep:
            with interrupts.deferred():
                undo.close()
    if not held.keep:
        assert t.policy.mesh_config() == original, "mesh config differs from the original after restore"
