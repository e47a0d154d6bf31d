"""Where built and downloaded components live, and how a finished entry is marked.

An entry is a directory named after the component and its pinned version. It
counts as installed only once its ``.complete`` marker exists, written last, so a
build killed half-way is redone on the next run instead of being trusted.
"""

import contextlib
import fcntl
import os
import pathlib
import shutil
import sys


def root() -> pathlib.Path:
    """The cache directory: $EGRESS_CONFORMANCE_CACHE, else /var/cache/egress-conformance
    for root (the local mesh runs Envoy as uid 1337, which cannot enter /root), else
    ~/.cache/egress-conformance."""
    configured = os.environ.get("EGRESS_CONFORMANCE_CACHE")
    if configured:
        return pathlib.Path(configured)
    if os.geteuid() == 0:
        return pathlib.Path("/var/cache/egress-conformance")
    return pathlib.Path.home() / ".cache" / "egress-conformance"


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
