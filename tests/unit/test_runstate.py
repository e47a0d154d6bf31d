import os

from egress_conformance.providers.local import runstate


def test_a_pid_counts_as_the_recorded_process_only_with_its_start_time():
    me = os.getpid()
    started = runstate._start_time(me)
    assert started and runstate._alive(me, started)
    assert not runstate._alive(me, str(int(started) + 1))  # a reused pid has another start time
    assert runstate._start_time(2**22 + 12345) is None
