"""A signal during the undo is remembered, not raised: the undo finishes, then the run ends
as interrupted (an undo cut half-way left the local mesh's processes behind)."""

import os
import signal

import pytest

from egress_conformance.run import interrupts


@pytest.fixture(autouse=True)
def fresh():
    interrupts.forget()
    previous = signal.getsignal(signal.SIGINT)
    yield
    signal.signal(signal.SIGINT, previous)
    interrupts.forget()


def test_a_signal_during_the_undo_lets_it_finish_then_interrupts():
    undone = []
    with pytest.raises(KeyboardInterrupt):
        with interrupts.deferred():
            os.kill(os.getpid(), signal.SIGINT)
            undone.append("every step")  # reached: the signal did not cut the block
    assert undone == ["every step"] and interrupts.received() == signal.SIGINT
    assert interrupts.exit_code() == 130


def test_without_a_signal_the_undo_ends_quietly_and_the_handlers_are_back():
    before = signal.getsignal(signal.SIGTERM)
    with interrupts.deferred():
        pass
    assert interrupts.received() is None and signal.getsignal(signal.SIGTERM) is before
