"""The framing of the client pod's kept-open shell (podshell): a command line that runs exactly
the argv given, and a reply that is taken only once both of its own end marks arrived."""

import subprocess

from egress_conformance.providers.existing import podshell


def run_in_sh(*lines: bytes) -> tuple[bytes, bytes]:
    """What a real sh prints for the framed lines (the shell in the pod is sh as well)."""
    done = subprocess.run(["sh"], input=b"".join(lines), capture_output=True, timeout=10)
    return done.stdout, done.stderr


def test_the_argv_runs_as_given_and_its_output_and_exit_code_come_back_exactly():
    argv = ["sh", "-c", 'printf "%s" "$1"; printf "to stderr" >&2; exit 7', "-", "a 'quoted' $HOME `x` %{json}\\n"]
    stdout, stderr = run_in_sh(podshell.command_line(argv, "t1"))
    reply = podshell.take_reply(stdout, stderr, "t1")
    assert reply == podshell.Reply(7, "a 'quoted' $HOME `x` %{json}\\n", "to stderr")


def test_output_with_and_without_a_final_newline_is_kept_as_it_was():
    for text in ("line\n", "no newline", ""):
        stdout, stderr = run_in_sh(podshell.command_line(["printf", "%s", text], "t2"))
        assert podshell.take_reply(stdout, stderr, "t2") == podshell.Reply(0, text, "")


def test_the_command_cannot_read_the_lines_after_it():
    stdout, stderr = run_in_sh(podshell.command_line(["cat"], "t3"), podshell.command_line(["echo", "next"], "t4"))
    assert podshell.take_reply(stdout, stderr, "t3") == podshell.Reply(0, "", "")
    rest_out, rest_err = stdout[stdout.index(b"t3 0\n") + 5:], stderr[stderr.index(b"t3\n") + 3:]
    assert podshell.take_reply(rest_out, rest_err, "t4") == podshell.Reply(0, "next\n", "")


def test_no_reply_until_both_marks_arrived_and_never_another_commands():
    stdout, stderr = run_in_sh(podshell.command_line(["echo", "mine"], "tag-a"))
    assert podshell.take_reply(stdout, b"", "tag-a") is None  # stderr's mark not read yet
    assert podshell.take_reply(stdout[:-3], stderr, "tag-a") is None  # stdout's mark cut short
    assert podshell.take_reply(stdout, stderr, "tag-b") is None  # another command's marks
    assert podshell.take_reply(stdout, stderr, "tag-a") == podshell.Reply(0, "mine\n", "")


def test_a_mark_inside_the_output_without_the_tag_is_just_output():
    fake = f"{podshell.MARK} other 0"
    stdout, stderr = run_in_sh(podshell.command_line(["printf", "\\n%s\\n", fake], "real"))
    assert podshell.take_reply(stdout, stderr, "real") == podshell.Reply(0, f"\n{fake}\n", "")
