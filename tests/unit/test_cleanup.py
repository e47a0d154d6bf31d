import pytest

from egress_conformance.changes import cleanup


def test_undos_run_last_in_first_out_and_survive_failures():
    order = []
    stack = cleanup.Stack()
    stack.push("first", lambda: order.append(1))
    stack.push("broken", lambda: 1 / 0)
    stack.push("third", lambda: order.append(3))
    with pytest.raises(cleanup.CleanupFailed, match="broken"):
        stack.close()
    assert order == [3, 1]
    assert stack.pending() == ["broken"], "an undo that failed twice stays on the stack"


def test_a_failed_undo_is_retried_once_after_the_others():
    order = []
    stack = cleanup.Stack()
    stack.push("needs the webhook gone", lambda: order.append("retry") if "webhook" in order else 1 / 0)
    stack.push("remove the webhook", lambda: order.append("webhook"))
    stack.close()
    assert order == ["webhook", "retry"] and stack.pending() == []


def test_an_early_undo_that_fails_stays_for_close_to_retry():
    calls = []

    def fails_the_first_time():
        calls.append(len(calls))
        if len(calls) == 1:
            raise RuntimeError("API unavailable")

    stack = cleanup.Stack()
    undo = stack.push("flaky", fails_the_first_time)
    with pytest.raises(RuntimeError):
        undo.run()
    assert stack.pending() == ["flaky"]
    stack.close()
    assert calls == [0, 1] and stack.pending() == []


def test_an_undo_run_early_is_not_repeated():
    calls = []
    stack = cleanup.Stack()
    undo = stack.push("once", lambda: calls.append("x"))
    undo.run()
    stack.close()
    assert calls == ["x"]


def test_an_undo_that_runs_earlier_ones_leaves_close_nothing_to_repeat():
    # apply_objects: one undo per object, and one "delete all" that runs them; a test that
    # fails before its own clean-up leaves all of them for close().
    calls = []
    stack = cleanup.Stack()
    parts = [stack.push(name, lambda name=name: calls.append(name)) for name in ("a", "b")]
    stack.push("delete all", lambda: [part.run() for part in reversed(parts)])
    stack.close()
    assert calls == ["b", "a"] and stack.pending() == []


def test_fields_the_api_adds_are_no_edit_but_a_changed_one_is():
    from egress_conformance.changes import undoing

    requested = {"containers": [{"name": "c", "image": "i"}], "hosts": ["a"]}
    defaulted = {"containers": [{"name": "c", "image": "i", "terminationMessagePath": "/dev/termination-log"}],
                 "hosts": ["a"], "nodeName": "egress-node"}
    assert undoing.still_as_created(requested, defaulted)
    assert not undoing.still_as_created(requested, dict(defaulted, hosts=["a", "b"]))
    assert not undoing.still_as_created(requested, {"containers": [{"name": "c", "image": "other"}], "hosts": ["a"]})
