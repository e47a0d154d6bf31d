"""A last-in, first-out stack of undo actions, registered where each change is made.

Every helper that creates or modifies something pushes its undo the moment the
change succeeds; closing the stack runs the undos in reverse order and keeps going
when one fails. An undo that fails stays on the stack: it is retried once after
all the others (a later undo may have removed the cause, e.g. a webhook or a
restarted API server), and if it fails again it is reported and left pending.
"""

import logging

log = logging.getLogger(__name__)


class CleanupFailed(Exception):
    """One or more undo actions failed; the message lists them."""


class Undo:
    """One registered undo; ``run()`` performs it now and takes it off the stack."""

    def __init__(self, stack: "Stack", description: str, action):
        self.stack = stack
        self.description = description
        self.action = action
        self.done = False

    def run(self) -> None:
        """Undo now (the scenario's own 'clean up' step); once it succeeded the stack will not
        repeat it; if it fails it stays on the stack, for close() to retry."""
        if self.done:
            return
        self.action()
        self.done = True
        self.stack._entries.remove(self)


class Stack:
    """The undo actions of one run or one test, performed last-in, first-out."""

    def __init__(self) -> None:
        self._entries: list[Undo] = []

    def push(self, description: str, action) -> Undo:
        """Register ``action`` (a callable) to undo a change that just succeeded."""
        entry = Undo(self, description, action)
        self._entries.append(entry)
        return entry

    def pending(self) -> list[str]:
        """Descriptions of the undos still to run, newest first."""
        return [entry.description for entry in reversed(self._entries)]

    def close(self) -> None:
        """Run every pending undo, newest first, then retry the failed ones once; raise
        CleanupFailed listing those that failed twice (they stay pending)."""
        failed = self._run_all(list(reversed(self._entries)), "failed")
        if not failed:
            return
        still = self._run_all(list(failed), "failed again on retry")
        if still:
            raise CleanupFailed("; ".join(f"{entry.description}: {err}" for entry, err in still.items()))

    def _run_all(self, entries: list[Undo], what: str) -> dict[Undo, BaseException]:
        failures: dict[Undo, BaseException] = {}
        for entry in entries:
            if entry.done:
                continue  # an undo that runs others (apply_objects' "delete all") already ran it
            try:
                entry.action()
            except BaseException as err:  # keep undoing even after Ctrl-C inside one undo
                log.error("cleanup step %r %s: %s", entry.description, what, err)
                failures[entry] = err
                continue
            entry.done = True
            self._entries.remove(entry)
        return failures
