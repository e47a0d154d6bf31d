"""Killing a run mid-flight, the way a CI runner or the OOM killer does: SIGKILL to the
whole process group once the run has reached a given step."""

import os
import signal
import subprocess
import sys


def kill_at(argv: list[str], line: str, **popen) -> list[str]:
    """Run ``egress-conformance ARGV`` in a session of its own until it prints ``line``, then
    SIGKILL the session; return what it printed. Fails if it ends without reaching the line."""
    # Unbuffered: the line must arrive when the step happens, not with a later block of output.
    env = {**popen.pop("env", os.environ), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen([sys.executable, "-m", "egress_conformance.cli", *argv], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True, env=env, **popen)
    seen = []
    for output in process.stdout:
        seen.append(output)
        if line in output:
            break
    else:
        process.wait()
        raise AssertionError(f"the run never printed {line!r}:\n" + "".join(seen[-40:]))
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    return seen
