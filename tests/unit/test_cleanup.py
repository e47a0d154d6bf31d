import pytest

from egress_conformance import cleanup


def test_undos_run_last_in_first_out_and_survive_failures():
    order = []
    stack = cleanup.Stack()
    stack.push("first", lambda: order.append(1))
    stack.push("broken", lambda: 1 / 0)
    stack.push("third", lambda: order.append(3))
    with pytest.raises(cleanup.CleanupFailed, match="broken"):
        stack.close()
    assert order == [3, 1]
    assert stack.pending() == []


def test_an_undo_run_early_is_not_repeated():
    calls = []
    stack = cleanup.Stack()
    undo = stack.push("once", lambda: calls.append("x"))
    undo.run()
    stack.close()
    assert calls == ["x"]
