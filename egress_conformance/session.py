"""A mesh held for a measurement outside pytest (benchmark, soak): started once, torn down
on exit, on failure and on Ctrl-C, exactly as the pytest ``mesh`` fixture does."""

import contextlib
import logging
import signal

from egress_conformance import cleanup, journal, providers, scope
from egress_conformance.conformance import EgressTest
from egress_conformance.settings import Timing

log = logging.getLogger("egress")


@contextlib.contextmanager
def mesh(name: str = providers.DEFAULT, options: dict | None = None):
    """Yield ``(provider, journal)`` for a started mesh; everything it started is undone on exit."""
    provider_class = providers.get(name)
    given = options or {}
    parsed = providers.parse_options(name, lambda dest: given.get(dest))
    provider_class.prepare(parsed)
    pending = journal.pending()
    if pending:
        raise providers.ProviderError("an earlier run left changes unrestored (" + journal.describe(pending[0])
                                      + "); run `egress-conformance restore` first")
    undo = cleanup.Stack()
    run_journal = journal.Journal()
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        provider = providers.create(name, parsed)
        provider.start(undo, run_journal)
        yield provider, run_journal
    finally:
        undo.close()
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def egress_test(provider, run_journal, timing: Timing, scope_name: str = scope.MESH_WIDE):
    """One test's handle ``t`` with its own cleanup stack, closed on exit (pass or fail)."""
    undo = cleanup.Stack()
    try:
        yield EgressTest(provider, undo, timing, run_journal, scope_name)
    finally:
        undo.close()


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")
