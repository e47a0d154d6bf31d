"""What a local-mesh run has started, on disk, so that nothing outlives it.

A run that ends normally (pass, failure, Ctrl-C, SIGTERM) undoes everything
through its cleanup stack. A run that is SIGKILLed cannot (and one run with
--keep does not); it leaves this record, and ``egress-conformance restore`` or
the next run sweeps it: it kills every process that carries the run's marker
(proctable.py; this finds the Envoy that pilot-agent started, which no record
names) and the recorded processes (checking their start time, so a reused pid is
never hit), waits until they are gone, deletes the recorded network namespaces
and removes the recorded files.
"""

import json
import os
import pathlib
import shutil
import signal
from collections.abc import Set
from typing import Any

from egress_conformance.providers.local import netns, proctable
from egress_conformance.providers.local.errors import LocalMeshError

STATE_DIR = pathlib.Path("/run/egress-conformance")

SWEEP_TIMEOUT_SECONDS = 30.0
"""How long the sweep waits for the processes it killed to be gone before it gives up, naming them."""


def _start_time(pid: int) -> str | None:
    try:
        stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # field 22, counted after the command name


def _alive(pid: int, start_time: str) -> bool:
    return _start_time(pid) == start_time


class RunState:
    """The record of one run; every ``add_*`` writes it to disk at once."""

    def __init__(self, run_id: str):
        STATE_DIR.mkdir(parents=True, exist_ok=True)
        self.run_id = run_id
        self.path = STATE_DIR / f"{run_id}.json"
        me = os.getpid()
        self.data: dict[str, list[Any]] = {"owner": [me, _start_time(me)], "pids": [], "netns": [], "paths": []}
        self._write()

    def add_pid(self, pid: int) -> None:
        self.data["pids"].append([pid, _start_time(pid)])
        self._write()

    def add_netns(self, name: str) -> None:
        self.data["netns"].append(name)
        self._write()

    def add_path(self, path: pathlib.Path) -> None:
        self.data["paths"].append(str(path))
        self._write()

    def remove(self) -> None:
        """The run's own cleanup finished: the record is no longer needed."""
        self.path.unlink(missing_ok=True)

    def _write(self) -> None:
        temp = self.path.with_suffix(".tmp")
        temp.write_text(json.dumps(self.data))
        temp.replace(self.path)


def sweep_stale() -> list[str]:
    """Undo what killed runs left behind; refuse to start beside a live run.

    Returns a line per swept run. Raises LocalMeshError if another run is active,
    because two local meshes would claim the same addresses.
    """
    swept: list[str] = []
    if not STATE_DIR.exists():
        return swept
    for path in sorted(STATE_DIR.glob("*.json")):
        try:
            data = json.loads(path.read_text())
        except (json.JSONDecodeError, FileNotFoundError):
            path.unlink(missing_ok=True)
            continue
        owner, owner_start = data["owner"]
        if owner != os.getpid() and _alive(owner, owner_start):
            raise LocalMeshError(
                f"another local-mesh run (pid {owner}) is active; wait for it to finish or stop it, then run again"
            )
        _stop_processes(path.stem, data["pids"])
        for name in data["netns"]:
            netns.delete(name)
        for leftover in data["paths"]:
            shutil.rmtree(leftover, ignore_errors=True)
        path.unlink(missing_ok=True)
        swept.append(f"stopped the local mesh of an earlier run ({path.stem}, killed or kept): "
                     f"{len(data['pids'])} processes, namespaces {', '.join(data['netns'])}")
    # A marked process without a record outlived a run whose record is gone (a live run writes its
    # record before it starts anything and removes it after it has stopped everything).
    recorded = {p.stem for p in STATE_DIR.glob("*.json")}
    orphans = {pid for pid in proctable.marked() if proctable.run_of(pid) not in recorded}
    if orphans:
        _stop_processes(None, [], extra=orphans)
        swept.append(f"stopped {len(orphans)} processes of earlier local-mesh runs that had no record left")
    return swept


def stop_marked(run_id: str) -> None:
    """Kill every process carrying ``run_id``'s marker; return once they are gone."""
    _stop_processes(run_id, [])


def _stop_processes(run_id: str | None, recorded: list, extra: Set[int] = frozenset()) -> None:
    """Kill the run's marked and recorded processes and return once every one is gone."""

    def alive() -> list[int]:
        pids = set(proctable.marked(run_id)) if run_id else set()
        pids |= {pid for pid, start in recorded if _alive(pid, start) and not proctable.is_zombie(pid)}
        pids |= {pid for pid in extra if proctable.run_of(pid)}
        return sorted(pids)

    for pid, start in recorded:  # their groups too: a child that somehow lost the marker goes with its leader
        if _alive(pid, start):
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    try:
        proctable.kill_until_gone(alive, timeout=SWEEP_TIMEOUT_SECONDS,
                                  what=f"the local mesh of run {run_id or 'unknown'}")
    except TimeoutError as err:
        raise LocalMeshError(f"{err}; stop them by hand (kill -9) and run `egress-conformance restore` again") from None
