"""Where built and downloaded components live, and how a finished entry is marked.

An entry is a directory named after the component and its pinned version. It
counts as installed only once its ``.complete`` marker exists, written last, so a
build killed half-way is redone on the next run instead of being trusted.
"""

import contextlib
import fcntl
import pathlib
import shutil
import sys

from egress_conformance import installed


def root() -> pathlib.Path:
    """The cache directory (egress_conformance.installed.cache_root: the suite reads the
    recorded layout from the same place)."""
    return installed.cache_root()


def entry(name: str, version: str) -> pathlib.Path:
    """The directory of one component at one version (it may not exist yet)."""
    return root() / f"{name}-{version}"


def is_complete(path: pathlib.Path) -> bool:
    """True when a previous run finished installing this entry."""
    return (path / ".complete").exists()


def begin(path: pathlib.Path) -> pathlib.Path:
    """Start (or restart) an entry: whatever an interrupted run left there is discarded."""
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    path.chmod(0o755)
    return path


def finish(path: pathlib.Path) -> None:
    """Mark an entry complete; call only after every file is in place."""
    (path / ".complete").write_text("ok\n")


@contextlib.contextmanager
def locked(name: str, waiting: str):
    """Hold the cache-wide lock ``name`` (a second holder waits, saying ``waiting`` once):
    two checkouts building into one cache would each discard the other's half-built entry."""
    path = root() / f"{name}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"{waiting} ({path}): waiting for it", file=sys.stderr)
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield
