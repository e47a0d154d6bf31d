import pytest

from egress_conformance import waits
from egress_conformance.settings import Timing


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def run(answers, timing):
    clock = FakeClock()
    answers = iter(answers)
    return waits.until_consistent(lambda: next(answers), lambda a: None if a == "ok" else f"got {a}", timing,
                                  what="state", clock=clock, sleep=clock.sleep)


def test_needs_consecutive_agreement_and_a_mismatch_resets_the_streak():
    done = run(["ok", "ok", "stale", "ok", "ok", "ok"], Timing(consecutive=3, interval=1, convergence_timeout=60))
    assert done.attempts == 6
    assert done.elapsed == 5


def test_timeout_names_attempts_and_last_observation():
    with pytest.raises(waits.NotConverged) as err:
        run(["no"] * 100, Timing(consecutive=3, interval=1, convergence_timeout=4.5))
    message = str(err.value)
    assert "after 6 attempts" in message and "last seen: 'no'" in message and "got no" in message


def test_a_single_good_answer_is_not_enough():
    with pytest.raises(waits.NotConverged, match="streak too short"):
        run(["no", "ok", "ok", "ok"][:3] + ["ok"], Timing(consecutive=5, interval=1, convergence_timeout=2.5))
