"""Progress lines for long set-up steps, readable both in a terminal and in CI logs.

Builds take minutes on two cores, so a running step prints a heartbeat line with
its elapsed time and how far it got, instead of going silent.
"""

import contextlib
import subprocess
import sys
import threading
import time

HEARTBEAT_SECONDS = 30.0
"""How often a running step says it is still running."""


def say(message: str) -> None:
    """Print one timestamped set-up line."""
    print(f"[setup {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def step(title: str):
    """Announce a step, heartbeat while it runs, report its duration when it ends."""
    state = {"detail": ""}
    started = time.monotonic()
    done = threading.Event()

    def heartbeat():
        while not done.wait(HEARTBEAT_SECONDS):
            detail = f", {state['detail']}" if state["detail"] else ""
            say(f"  ... {title}: {time.monotonic() - started:.0f}s{detail}")

    say(f"{title} ...")
    thread = threading.Thread(target=heartbeat, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        done.set()
        thread.join()
    say(f"{title}: done in {time.monotonic() - started:.0f}s")


def run_counting(argv, *, cwd=None, env=None, state=None, unit="lines") -> subprocess.CompletedProcess:
    """Run a command, counting its output lines into ``state['detail']`` for the heartbeat.

    The output is kept (and returned) so that a failure can quote its last line.
    """
    proc = subprocess.Popen(
        argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    if proc.stdout is None:  # never: stdout=PIPE above gives a pipe
        raise RuntimeError(f"no output pipe from {argv[0]}")
    lines = []
    for line in proc.stdout:
        lines.append(line.rstrip("\n"))
        if state is not None:
            state["detail"] = f"{len(lines)} {unit}"
    proc.wait()
    return subprocess.CompletedProcess(argv, proc.returncode, "\n".join(lines), "")
