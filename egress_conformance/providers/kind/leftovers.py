"""Undoing what a kind run made outside the Kubernetes API, with the exact commands of
commands.py: its kind cluster (from the run's journal, at the run's end or by ``restore``)."""

import subprocess

from egress_conformance.changes import journal
from egress_conformance.providers.kind import commands
from egress_conformance.providers.kind.runner import Runner

TIMEOUT_SECONDS = 300.0


class CommandFailed(journal.UndoFailed):
    """A command of the undo failed; str(err) is one line naming it and what it said."""


def delete_cluster(name: str, runner: Runner) -> str:
    """Delete the kind cluster ``name`` and everything in it (kind says nothing when it is gone)."""
    _run(commands.delete_cluster(name), runner)
    return f"deleted kind cluster {name}"


def kubeconfig(name: str, runner: Runner) -> str:
    """The kubeconfig of kind cluster ``name`` as kind gives it (the run's copy may be gone with /tmp)."""
    return _run(commands.get_kubeconfig(name), runner)


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
