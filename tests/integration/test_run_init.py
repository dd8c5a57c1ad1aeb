"""`--init`: pid 1 is the runtime's reaper; it reaps orphans, forwards signals and exits with
the program's code."""

from __future__ import annotations

import json

import pytest

from tests.integration.test_run import Run, pc, root  # noqa: F401  (fixtures)

pytestmark = pytest.mark.root
NET = ("--network", "none")


def test_pid1_is_the_reaper_and_orphans_are_reaped(pc: Run) -> None:  # noqa: F811
    # The subshell exits at once: its `sleep` is orphaned to pid 1, exits after 0.2 s and
    # would stay a zombie if pid 1 did not reap it.
    script = "(sleep 0.2 &); sleep 0.8; ps -o pid,ppid,stat,comm; echo end"
    r = pc("run", "--rm", "--init", *NET, "busybox", "sh", "-c", script)
    assert r.returncode == 0, r.stderr
    rows = [ln.split() for ln in r.stdout.splitlines()[1:-1]]
    assert rows[0][0] == "1" and rows[0][3] == "init", r.stdout
    assert any(row[1] == "1" and row[3] == "sh" for row in rows), r.stdout
    assert not [row for row in rows if row[2].startswith("Z")], r.stdout
    assert "sleep" not in r.stdout


@pytest.mark.parametrize(("cmd", "code"), [(["sh", "-c", "exit 7"], 7), (["nosuch"], 127)])
def test_exit_codes_pass_through(pc: Run, cmd: list[str], code: int) -> None:  # noqa: F811
    r = pc("run", "--rm", "--init", *NET, "busybox", *cmd)
    assert r.returncode == code, r.stderr


def test_stop_reaches_the_program(pc: Run) -> None:  # noqa: F811
    cid = pc("run", "-d", "--init", *NET, "busybox", "sleep", "30").stdout.strip()
    # Without --init, sleep as pid 1 ignores SIGTERM and stop waits for its timeout; the
    # reaper forwards it and sleep dies of it.
    assert pc("stop", "-t", "10", cid, timeout=8).returncode == 0
    info = json.loads(pc("inspect", cid).stdout)[0]
    assert info["State"]["ExitCode"] == 143
    assert info["HostConfig"]["Init"] is True
    pc("rm", cid)
