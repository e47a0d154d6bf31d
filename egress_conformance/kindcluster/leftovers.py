"""Undoing what a kind run made outside the Kubernetes API, with the exact commands of
commands.py: its kind cluster and its container (from the run's journal, at the run's end
or by ``restore``), and the marked containers no journal knows any more (the sweep)."""

import os
import subprocess

from egress_conformance.kindcluster import commands
from egress_conformance.kindcluster.runner import Runner

TIMEOUT_SECONDS = 300.0


class CommandFailed(Exception):
    """A command of the undo failed; str(err) is one line naming it and what it said."""


def delete_cluster(name: str, runner: Runner) -> str:
    """Delete the kind cluster ``name`` and everything in it (kind says nothing when it is gone)."""
    _run(commands.delete_cluster(name), runner)
    return f"deleted kind cluster {name}"


def remove_container(name: str, runner: Runner) -> str:
    """Remove the container ``name`` (by name or id); one that is gone already is no error."""
    try:
        _run(commands.remove_container(name), runner)
    except CommandFailed as err:
        if "no such container" in str(err).lower():
            return f"container {name} already gone"
        raise
    return f"removed container {name}"


def kubeconfig(name: str, runner: Runner) -> str:
    """The kubeconfig of kind cluster ``name`` as kind gives it (the run's copy may be gone with /tmp)."""
    return _run(commands.get_kubeconfig(name), runner)


def orphans(listing: str, host: str) -> list[tuple[str, str]]:
    """(container id, journal) of the marked containers of ``listing`` (commands.list_marked_containers)
    that are this host's and whose journal is gone: only then is no run left that knows of them.
    A journal that cannot be looked at (no permission) proves nothing: its container stays."""
    found = []
    for line in listing.splitlines():
        container, journal, marked_host = (line.split("\t") + ["", ""])[:3]
        if not container or not journal or marked_host != host:
            continue
        try:
            os.stat(journal)
        except FileNotFoundError:
            found.append((container, journal))
        except OSError:
            continue
    return found


def sweep(runner: Runner, host: str) -> list[str]:
    """Remove the orphaned marked containers (see orphans); a line per container."""
    listing = _run(commands.list_marked_containers(), runner)
    return [f"kind: {remove_container(container, runner)} (its run's journal {journal} is gone)"
            for container, journal in orphans(listing, host)]


def _run(argv: list[str], runner: Runner) -> str:
    try:
        return runner(argv, TIMEOUT_SECONDS).stdout
    except subprocess.CalledProcessError as err:
        said = (err.stderr or err.stdout or "").strip().splitlines()
        raise CommandFailed(f"`{' '.join(argv)}` failed: {said[-1][:200] if said else f'exit {err.returncode}'}") \
            from None
    except subprocess.TimeoutExpired:
        raise CommandFailed(f"`{' '.join(argv)}` did not finish in {TIMEOUT_SECONDS:.0f}s") from None
    except FileNotFoundError:
        raise CommandFailed(f"`{argv[0]}` is not on PATH: install it to undo what the kind run left") from None
