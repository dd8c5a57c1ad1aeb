"""`-i` and `-t`: stdin piped to the container, a real pty from the container's devpts whose
size follows the caller's terminal, `start -a -i`, and `--rm` with `-t`."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from tests.integration.test_run import Run, pc, root  # noqa: F401  (fixtures)

pytestmark = pytest.mark.root
NET = ("--network", "none")


def _with_input(root: Path, text: str, *args: str) -> subprocess.CompletedProcess[str]:  # noqa: F811
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYCORE_")}
    return subprocess.run(
        [sys.executable, "-m", "pycore", "--root", str(root), *args],
        input=text,
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=60,
    )


def test_interactive_stdin_reaches_cat(pc: Run, root: Path) -> None:  # noqa: F811
    r = _with_input(root, "hello\nworld\n", "run", "--rm", "-i", *NET, "busybox", "cat")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "hello\nworld\n"
    # Without -i the container's stdin is /dev/null.
    r = _with_input(root, "ignored\n", "run", "--rm", *NET, "busybox", "cat")
    assert (r.returncode, r.stdout) == (0, "")


def test_start_attach_interactive(pc: Run, root: Path) -> None:  # noqa: F811
    cid = pc("create", "-i", *NET, "busybox", "sh", "-c", "read x; echo got $x").stdout.strip()
    r = _with_input(root, "it\n", "start", "-a", "-i", cid)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "got it\n"
    pc("rm", cid)


def _winsize(fd: int, rows: int, cols: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def _in_pty(root: Path, args: list[str], script: list[tuple[str, bytes | tuple[int, int]]]) -> str:  # noqa: F811
    """Run the CLI on a new pty; `script`: (text to wait for, bytes to type or a new size)."""
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover (the child execs)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYCORE_")}
        os.execve(sys.executable, [sys.executable, "-m", "pycore", "--root", str(root), *args], env)
    _winsize(fd, 30, 100)
    out = b""
    steps = list(script)
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            if steps and steps[0][0].encode() in out:
                _, action = steps.pop(0)
                if isinstance(action, tuple):
                    _winsize(fd, *action)
                    time.sleep(0.5)  # SIGWINCH: CLI -> monitor -> the container's pty
                else:
                    os.write(fd, action)
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
    finally:
        if time.monotonic() >= deadline:
            os.kill(pid, 9)
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0, out
    return out.decode(errors="replace").replace("\r", "")


def test_tty_is_the_containers_own_pty_and_follows_resizes(pc: Run, root: Path) -> None:  # noqa: F811
    cmd = "tty; stty size; echo ready; read x; stty size; echo bye"
    out = _in_pty(
        root,
        ["run", "--rm", "-it", *NET, "busybox", "sh", "-c", cmd],
        [("ready", (40, 120)), ("ready", b"go\n")],
    )
    lines = [ln.strip() for ln in out.splitlines() if ln.strip()]
    assert "/dev/pts/0" in lines, out
    assert "30 100" in lines, out
    assert "40 120" in lines, out
    assert lines.index("40 120") > lines.index("30 100")
    assert "bye" in lines


def test_tty_without_interactive(pc: Run) -> None:  # noqa: F811
    r = pc("run", "--rm", "-t", *NET, "busybox", "sh", "-c", "tty; echo a")
    assert r.returncode == 0, r.stderr
    assert r.stdout.replace("\r", "").split() == ["/dev/pts/0", "a"]
