"""Debian packages the local mesh and the project's own tests need: installed with apt only
when a command is missing."""

import os
import shutil

from egress_testbed.install import progress
from egress_testbed.install.errors import InstallError

COMMANDS = {"iptables": "iptables", "ip": "iproute2", "setpriv": "util-linux", "curl": "curl"}
"""Command the local mesh runs -> the Debian package that provides it."""

TEST_COMMANDS = {"chromium": "chromium"}
"""Command the project's own tests run -> its package: the report pages' browser test
(tests/integration/test_report_browser.py) drives Debian's Chromium, never a browser a tool downloads."""


def ensure_commands() -> None:
    """Install the Debian package of every missing command (needs root and apt)."""
    wanted = COMMANDS | TEST_COMMANDS
    missing = sorted({pkg for cmd, pkg in wanted.items() if shutil.which(cmd) is None})
    if not missing:
        progress.say(f"debian packages: {', '.join(sorted(set(wanted.values())))} present")
        return
    apt_install(missing)


def ensure(commands: dict[str, str]) -> None:
    """Install the Debian package of each of ``commands`` (command -> package) that is missing."""
    missing = sorted({pkg for cmd, pkg in commands.items() if shutil.which(cmd) is None})
    if missing:
        apt_install(missing)


def apt_install(packages: list[str]) -> None:
    """apt-get update and install ``packages`` (needs root and apt), a progress line while it runs."""
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        raise InstallError(f"missing Debian packages {' '.join(packages)}: install them as root "
                           f"(apt-get install {' '.join(packages)})")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    with progress.step(f"apt-get install {' '.join(packages)}") as state:
        for argv in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *packages]):
            result = progress.run_counting(argv, env=env, state=state)
            if result.returncode != 0:
                raise InstallError(f"{' '.join(argv)} failed: {result.stdout.strip()[-200:]}; fix apt and run set-up "
                                   "again")
