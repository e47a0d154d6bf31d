"""A node daemon that dies is reported in one line quoting the log line that says why; a pid
file whose process is gone (or was recycled) is not taken for a running daemon."""

import pytest

from egress_testbed.node import daemons, layout
from egress_testbed.node.errors import NodeError


@pytest.fixture(autouse=True)
def own_dirs(tmp_path, monkeypatch):
    monkeypatch.setattr(layout, "LOGS", tmp_path / "logs")
    monkeypatch.setattr(layout, "PIDS", tmp_path / "pids")


def test_a_daemon_that_dies_is_reported_with_the_line_that_says_why():
    script = ('echo "level=info msg=starting"; '
              'echo "level=fatal msg=\\"failed to create root dir: mkdir /x: not a directory\\""; '
              'echo "level=info msg=exiting"; exit 1')
    daemons.start("containerd", ["sh", "-c", script])
    with pytest.raises(NodeError) as failure:
        daemons.wait_ready("containerd", lambda: False, timeout=30, what="its socket")
    message = str(failure.value)
    assert message.startswith("containerd is not running: level=fatal")
    assert "not a directory" in message and "\n" not in message


def test_a_daemon_that_never_answers_times_out_naming_the_last_answer():
    daemons.start("kubelet", ["sleep", "30"])
    try:
        with pytest.raises(NodeError, match=r"kubelet not ready \(GET /healthz\) after 1s; last: OSError: refused"):
            daemons.wait_ready("kubelet", _refuse, timeout=1, what="GET /healthz")
    finally:
        daemons.stop("kubelet")
    assert daemons.pid("kubelet") is None and daemons.recorded() == []


def test_a_recycled_pid_is_not_ours(tmp_path):
    layout.PIDS.mkdir(parents=True)
    (layout.PIDS / "etcd.pid").write_text("1 -1\n")  # pid 1 runs, but no process starts at tick -1
    assert daemons.pid("etcd") is None


def _refuse():
    raise OSError("refused")
