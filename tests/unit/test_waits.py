import pytest

from egress_conformance import waits
from egress_conformance.timing import Timing


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


class Seen:
    """An observation with the sidecar's config generation, as the probe returns it."""

    def __init__(self, answer, generation):
        self.answer, self.generation = answer, generation


def run_seen(seen, timing):
    clock = FakeClock()
    answers = iter(seen)
    return waits.until_consistent(lambda: next(answers), lambda s: None if s.answer == "ok" else f"got {s.answer}",
                                  timing, what="state", clock=clock, sleep=clock.sleep)


EVIDENCE = Timing(consecutive=3, interval=0.5, settled_interval=0.01, retry_interval=0.1, convergence_timeout=60)


def test_with_a_generation_agreeing_answers_follow_quickly_and_mismatches_are_retried_soon():
    done = run_seen([Seen("no", (1, 1)), Seen("ok", (2, 2)), Seen("ok", (2, 2)), Seen("ok", (2, 2))], EVIDENCE)
    assert done.attempts == 4
    assert done.elapsed == pytest.approx(0.1 + 0.01 + 0.01)


def test_a_new_generation_restarts_the_streak_even_when_every_answer_matches():
    seen = [Seen("ok", (1, 1)), Seen("ok", (1, 1)), Seen("ok", (1, 2)), Seen("ok", (2, 2)), Seen("ok", (2, 2)),
            Seen("ok", (2, 2))]
    assert run_seen(seen, EVIDENCE).attempts == 6


def test_still_n_fresh_agreeing_observations_with_a_generation():
    with pytest.raises(waits.NotConverged, match="after 13 attempts"):
        run_seen([Seen("ok", (1, 1))] * 2 + [Seen("no", (1, 1))] * 1000,
                 Timing(consecutive=3, settled_interval=0.01, retry_interval=0.1, convergence_timeout=1))


def test_without_a_generation_answers_are_spaced_by_the_fixed_interval():
    assert waits.pause(EVIDENCE, matched=True, has_generation=False) == 0.5
    assert waits.pause(EVIDENCE, matched=False, has_generation=False) == 0.5
    assert waits.pause(EVIDENCE, matched=True, has_generation=True) == 0.01
    assert waits.pause(EVIDENCE, matched=False, has_generation=True) == 0.1
