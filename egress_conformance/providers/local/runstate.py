"""What a local-mesh run has started, on disk, so that nothing outlives it.

A run that ends normally (pass, failure, Ctrl-C, SIGTERM) undoes everything
through its cleanup stack. A run that is SIGKILLed cannot (and one run with
--keep does not); it leaves this record, and ``egress-conformance restore`` or
the next run sweeps it: it kills the recorded
processes (checking their start time, so a reused pid is never hit), deletes the
recorded network namespaces and removes the recorded files.
"""

import json
import os
import pathlib
import shutil
import signal

from egress_conformance.providers.local import netns
from egress_conformance.providers.local.errors import LocalMeshError

STATE_DIR = pathlib.Path("/run/egress-conformance")


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
        self.path = STATE_DIR / f"{run_id}.json"
        me = os.getpid()
        self.data = {"owner": [me, _start_time(me)], "pids": [], "netns": [], "paths": []}
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
    swept = []
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
        for pid, start in data["pids"]:
            if _alive(pid, start):
                try:
                    os.killpg(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for name in data["netns"]:
            netns.delete(name)
        for leftover in data["paths"]:
            shutil.rmtree(leftover, ignore_errors=True)
        path.unlink(missing_ok=True)
        swept.append(f"stopped the local mesh of an earlier run ({path.stem}, killed or kept): "
                     f"{len(data['pids'])} processes, namespaces {', '.join(data['netns'])}")
    return swept
