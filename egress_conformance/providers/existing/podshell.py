"""One long-lived ``sh`` in the client pod's app container, fed commands on stdin, instead of
one exec per request: the exec's set-up (API server, kubelet, runtime) is paid once per run.

Each command is framed by a random tag: after it, the shell prints the tag and the exit code
on stdout and the tag on stderr, so a reply is matched to its request and nothing else. A
command whose reply does not come in time, or a stream that breaks, closes the shell: the
next command starts a fresh one, so a late answer can never be read as another's.
"""

import dataclasses
import re
import secrets
import shlex
import threading
import time

from kubernetes import client
from kubernetes.stream import stream, ws_client

MARK = "@@egress-conformance-done"


class ShellBroken(Exception):
    """The shell stream could not be opened, or closed under a command; str(err) says how."""


@dataclasses.dataclass(frozen=True)
class Reply:
    """A framed command's output, as an exec would have given it."""

    exit_code: int
    stdout: str
    stderr: str


def command_line(argv: list[str], tag: str) -> bytes:
    """The line that runs ``argv`` (stdin closed, so it cannot eat the commands after it), then
    prints the end marks of ``tag``: ``\\n<MARK> <tag> <exit code>\\n`` on stdout, ``\\n<MARK> <tag>\\n`` on stderr."""
    quoted = " ".join(shlex.quote(arg) for arg in argv)
    return (f"{quoted} </dev/null; rc=$?; printf '\\n%s %s %d\\n' {MARK} {tag} \"$rc\"; "
            f"printf '\\n%s %s\\n' {MARK} {tag} >&2\n").encode()


def take_reply(stdout: bytes, stderr: bytes, tag: str) -> Reply | None:
    """The reply of ``tag`` once both its end marks are in the buffers read so far; None until then."""
    done = re.search(rb"\n" + re.escape(f"{MARK} {tag} ".encode()) + rb"(\d+)\n", stdout)
    err_mark = f"\n{MARK} {tag}\n".encode()
    if not done or err_mark not in stderr:
        return None
    return Reply(int(done[1]), _text(stdout[:done.start()]), _text(stderr[:stderr.index(err_mark)]))


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


class PodShell:
    """A shell kept open in one container of a pod through the API server's exec endpoint."""

    def __init__(self, core: client.CoreV1Api, namespace: str, pod: str, container: str):
        self._core, self._namespace, self._pod, self._container = core, namespace, pod, container
        self._stream = None
        self._lock = threading.Lock()

    def run(self, argv: list[str], timeout: float) -> Reply:
        """Run ``argv`` in the shell; the reply within ``timeout`` seconds, else exit code 124 (as an exec
        that does not finish). Raises ShellBroken if the stream cannot be opened or closes under it."""
        with self._lock:
            shell = self._open()
            tag = secrets.token_hex(8)
            try:
                shell.write_stdin(command_line(argv, tag))
            except Exception as err:  # the socket went away: a fresh shell next time
                self._close()
                raise ShellBroken(f"writing to the shell failed: {_short(err)}") from None
            stdout, stderr = b"", b""
            deadline = time.monotonic() + timeout
            while (reply := take_reply(stdout, stderr, tag)) is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    # The command may still answer later: that shell's output is never read again.
                    self._close()
                    return Reply(124, _text(stdout), _text(stderr) + f"\nno exit after {timeout:.0f}s")
                try:
                    shell.update(timeout=min(remaining, 1.0))
                except Exception as err:
                    self._close()
                    raise ShellBroken(f"reading from the shell failed: {_short(err)}") from None
                stdout += shell.read_channel(ws_client.STDOUT_CHANNEL, timeout=0)
                stderr += shell.read_channel(ws_client.STDERR_CHANNEL, timeout=0)
                if not shell.is_open():
                    self._close()
                    raise ShellBroken("the shell's stream closed (the container restarted, or the API server or "
                                      "kubelet dropped it)")
            return reply

    def _open(self):
        if self._stream is not None and self._stream.is_open():
            return self._stream
        self._close()
        try:
            opened = stream(self._core.connect_get_namespaced_pod_exec, self._pod, self._namespace,
                            container=self._container, command=["sh"], stdin=True, stdout=True, stderr=True,
                            tty=False, binary=True, _preload_content=False)
        except client.ApiException as err:
            raise ShellBroken(f"cannot open a shell in {self._namespace}/{self._pod} ({self._container}): "
                              f"{err.status} {err.reason}") from None
        # WSClient keeps a copy of all output for read_all(), which a long-lived stream never calls:
        # without this it grows for the whole run (the `stream` helper cannot pass capture_all=False).
        opened._all = ws_client._IgnoredIO()
        self._stream = opened
        return opened

    def _close(self) -> None:
        if self._stream is not None:
            try:
                self._stream.close()
            except Exception:  # closing a broken socket: nothing left to free
                pass
            self._stream = None

    def close(self) -> None:
        """End the shell (its stdin closes, sh exits)."""
        with self._lock:
            self._close()


def _short(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return text[0][:200] if text else type(err).__name__
