"""Running the kind provider's commands: an argv list, no shell, a copy of our environment.
Apart from the cluster manager so that ``restore`` can run the same commands without it."""

import os
import subprocess
from collections.abc import Callable

Runner = Callable[[list[str], float], subprocess.CompletedProcess]


def run(argv: list[str], timeout: float) -> subprocess.CompletedProcess:
    """Run a command without a shell, in a copy of our environment; raise on failure."""
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=True, env=dict(os.environ))
