"""The run marker finds a run's processes, children included, and nothing else."""

import os
import secrets
import subprocess
import sys

from egress_conformance.providers.local import proctable


def test_the_marker_finds_a_grandchild_and_the_sweep_waits_until_it_is_gone():
    run_id = secrets.token_hex(3)
    # A parent that starts a child and dies, as pilot-agent leaves Envoy behind when SIGKILLed.
    parent = subprocess.Popen(
        [sys.executable, "-c", "import subprocess, sys; p = subprocess.Popen(['sleep', '300'], stdout=subprocess.DEVNULL); print(p.pid)"],
        env=dict(os.environ, **{proctable.MARKER: run_id}), stdout=subprocess.PIPE, text=True)
    child = int(parent.communicate(timeout=30)[0])
    try:
        assert list(proctable.marked(run_id)) == [child]
        assert proctable.run_of(child) == run_id
        assert proctable.marked(secrets.token_hex(4)) == {}, "another run's marker finds nothing"
        proctable.kill_until_gone(lambda: list(proctable.marked(run_id)), timeout=10, what="test")
        assert proctable.marked(run_id) == {}
    finally:
        subprocess.run(["kill", "-9", str(child)], capture_output=True)


def test_a_process_without_the_marker_is_never_found():
    other = subprocess.Popen(["sleep", "300"], env={k: v for k, v in os.environ.items() if k != proctable.MARKER})
    try:
        assert other.pid not in proctable.marked()
    finally:
        other.kill()
        other.wait()
