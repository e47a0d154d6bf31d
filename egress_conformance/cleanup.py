"""A last-in, first-out stack of undo actions, registered where each change is made.

Every helper that creates or modifies something pushes its undo the moment the
change succeeds; closing the stack runs the undos in reverse order, keeps going
when one fails, and reports every failure at the end.
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
        """Undo now (the scenario's own 'clean up' step); the stack will not repeat it."""
        if self.done:
            return
        self.done = True
        self.stack._entries.remove(self)
        self.action()


class Stack:
    """The undo actions of one run or one test, performed last-in, first-out."""

    def __init__(self):
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
        """Run every pending undo, newest first; raise CleanupFailed listing any that failed."""
        failures = []
        while self._entries:
            entry = self._entries.pop()
            entry.done = True
            try:
                entry.action()
            except BaseException as err:  # keep undoing even after Ctrl-C inside one undo
                log.error("cleanup step %r failed: %s", entry.description, err)
                failures.append(f"{entry.description}: {err}")
        if failures:
            raise CleanupFailed("; ".join(failures))
