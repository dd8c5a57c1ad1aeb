"""The lifecycle commands beyond run/stop/rm, through the real CLI: logs (follow, tail, since,
until, timestamps), ps filters and --last, restart, kill -s, top, stats, pause/unpause and
wait on several containers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.containers import Run, busybox_root, cli_with_teardown

pytestmark = pytest.mark.root

NET = ("--network", "none")


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return busybox_root(tmp_path_factory, "lifecycle")


@pytest.fixture
def pc(root: Path) -> Iterator[Run]:
    yield from cli_with_teardown(root)


def _run_d(pc: Run, *args: str) -> str:
    r = pc("run", "-d", *NET, *args)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_logs_follow_ends_with_the_container(pc: Run, root: Path) -> None:
    _run_d(
        pc, "--name", "lg", "busybox", "sh", "-c", "for i in 1 2 3; do echo l$i; sleep 0.3; done"
    )
    t = time.monotonic()
    r = pc("logs", "-f", "lg", timeout=20)
    assert r.returncode == 0 and r.stdout == "l1\nl2\nl3\n"
    assert time.monotonic() - t > 0.4  # it waited for lines still to come
    assert pc("logs", "--tail", "1", "lg").stdout == "l3\n"
    assert pc("logs", "-n", "all", "lg").stdout == "l1\nl2\nl3\n"
    assert pc("logs", "--since", "1h", "lg").stdout == "l1\nl2\nl3\n"
    assert pc("logs", "--until", "2000-01-01T00:00:00Z", "lg").stdout == ""
    assert pc("logs", "--since", str(time.time() + 60), "lg").stdout == ""
    stamped = pc("logs", "-t", "--tail", "1", "lg").stdout
    assert stamped.endswith("Z l3\n") and stamped[:4].isdigit()
    r = pc("logs", "--since", "yesterday", "lg")
    assert r.returncode == 125 and "invalid time" in r.stderr


def test_logs_follow_streams_while_running(root: Path, pc: Run) -> None:
    _run_d(pc, "--name", "fl", "busybox", "sh", "-c", "echo first; sleep 2; echo second")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYCORE_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "pycore", "--root", str(root), "logs", "-f", "fl"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == "first\n"
    assert proc.poll() is None  # still following
    assert proc.stdout.readline() == "second\n"
    assert proc.wait(timeout=20) == 0


def _ids(pc: Run, *args: str) -> set[str]:
    return set(pc("ps", "-q", *args).stdout.split())


def test_ps_filters(pc: Run) -> None:
    web = _run_d(pc, "--name", "web", "-l", "app=web", "busybox", "sleep", "60")[:12]
    job = _run_d(pc, "--name", "job", "-l", "app=job", "busybox", "sh", "-c", "exit 3")[:12]
    ok = _run_d(pc, "--name", "ok", "busybox", "true")[:12]
    assert pc("wait", "job", "ok").stdout.split() == ["3", "0"]
    assert _ids(pc) == {web}
    assert _ids(pc, "-f", "status=exited") == {job, ok}  # a status filter implies -a
    assert _ids(pc, "--filter", "exited=3") == {job}
    assert _ids(pc, "-a", "-f", "label=app") == {web, job}
    assert _ids(pc, "-a", "-f", "label=app=web") == {web}
    assert _ids(pc, "-a", "-f", "name=web", "-f", "name=ok") == {web, ok}  # OR within a key
    assert _ids(pc, "-a", "-f", "name=web", "-f", "status=exited") == set()  # AND between keys
    assert _ids(pc, "-a", "-f", f"id={job[:6]}") == {job}
    assert _ids(pc, "-a", "-f", "ancestor=busybox:latest") == {web, job, ok}
    assert _ids(pc, "-a", "-f", "ancestor=alpine") == set()
    assert _ids(pc, "-n", "1") == {ok}
    assert _ids(pc, "--last", "2") == {ok, job}
    assert _ids(pc, "-l") == {ok}
    rows = [
        json.loads(x)
        for x in pc("ps", "-a", "--format", "json", "-f", "name=job").stdout.splitlines()
    ]
    assert [(r["Names"], r["State"]) for r in rows] == [("job", "exited")]
    r = pc("ps", "-f", "color=red")
    assert r.returncode == 125 and r.stderr.strip() == "pycore: invalid filter 'color'"
    assert pc("rm", "-f", "web", "job", "ok").returncode == 0


def test_restart_kill_signal_and_wait(pc: Run) -> None:
    script = "trap 'exit 42' USR1; echo up; while :; do sleep 0.1; done"
    _run_d(pc, "--name", "rs", "busybox", "sh", "-c", script)
    pid1 = json.loads(pc("inspect", "rs").stdout)[0]["State"]["Pid"]
    assert pc("restart", "-t", "1", "rs").returncode == 0
    state = json.loads(pc("inspect", "rs").stdout)[0]["State"]
    assert state["Running"] and state["Pid"] != pid1
    time.sleep(0.3)
    assert pc("kill", "-s", "USR1", "rs").returncode == 0
    assert pc("wait", "rs").stdout.strip() == "42"
    # restart of a stopped container starts it
    assert pc("restart", "rs").returncode == 0
    assert json.loads(pc("inspect", "rs").stdout)[0]["State"]["Running"]
    assert pc("kill", "-s", "SIGKILL", "rs").returncode == 0
    assert pc("wait", "rs").stdout.strip() == "137"
    r = pc("kill", "-s", "NOPE", "rs")
    assert r.returncode == 125


def test_wait_on_several_containers(pc: Run) -> None:
    a = _run_d(pc, "busybox", "sh", "-c", "sleep 0.5; exit 5")
    b = _run_d(pc, "busybox", "sh", "-c", "exit 6")
    r = pc("wait", a, b)
    assert r.stdout.split() == ["5", "6"]


def test_top(pc: Run) -> None:
    _run_d(pc, "--name", "tp", "busybox", "sh", "-c", "sleep 60 & sleep 61; true")
    time.sleep(0.3)
    lines = pc("top", "tp").stdout.splitlines()
    assert lines[0].split() == ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
    cmds = [ln.split(None, 7)[7] for ln in lines[1:]]
    assert cmds[0] == "sh -c sleep 60 & sleep 61; true"
    assert sorted(cmds[1:]) == ["sleep 60", "sleep 61"]
    state = json.loads(pc("inspect", "tp").stdout)[0]["State"]
    assert lines[1].split()[1] == str(state["Pid"])  # host pids, the init first
    custom = pc("top", "tp", "-o", "pid,comm").stdout.splitlines()
    assert custom[0].split() == ["PID", "COMMAND"] and len(custom) == 4
    r = pc("top", "tp", "-o", "comm")
    assert r.returncode == 125 and "PID" in r.stderr
    assert pc("rm", "-f", "tp").returncode == 0


def test_stats(pc: Run) -> None:
    _run_d(pc, "--name", "st", "-m", "64m", "busybox", "sh", "-c", "while :; do :; done")
    r = pc("stats", "--no-stream", "--format", "json", "st")
    row = json.loads(r.stdout)
    assert row["Name"] == "st" and row["Pids"] == "1"
    assert float(row["CpuPerc"].rstrip("%")) > 30  # a busy loop on one CPU
    assert row["MemUsage"].endswith("/ 64MiB")
    assert row["Source"] == "cgroup"
    table = pc("stats", "--no-stream", "st").stdout.splitlines()
    assert table[0].split()[:3] == ["CONTAINER", "ID", "NAME"]
    assert pc("rm", "-f", "st").returncode == 0


def test_pause_and_unpause(pc: Run) -> None:
    _run_d(pc, "--name", "pz", "busybox", "sh", "-c", "while :; do date +%s%N > /tmp/t; done")
    assert pc("pause", "pz").returncode == 0
    assert _ids(pc, "-f", "status=paused") == _ids(pc, "-f", "name=pz")
    r = pc("exec", "pz", "true")  # it would hang in the frozen cgroup: Docker refuses too
    assert r.returncode == 1 and "is paused, unpause the container before exec" in r.stderr
    r = pc("pause", "pz")
    assert r.returncode == 125 and "already paused" in r.stderr
    assert pc("unpause", "pz").returncode == 0
    assert _ids(pc, "-f", "status=paused") == set()
    r = pc("unpause", "pz")
    assert r.returncode == 125 and "not paused" in r.stderr
    stopped = _run_d(pc, "busybox", "true")
    pc("wait", stopped)
    r = pc("pause", stopped)
    assert r.returncode == 1 and "is not running" in r.stderr
    assert pc("rm", "-f", "pz", stopped).returncode == 0


def test_several_containers_each_done_errors_said_rm_f_of_missing_is_fine(pc: Run) -> None:
    """As Docker's CLI: `rm`, `stop`, `kill`, `wait` go through every container named, one
    line per error, and exit with the error's code (125 for a missing container, pycore's
    error); `rm -f` of a container that does not exist says so but succeeds (as `rm -f` of
    a missing file)."""
    a = _run_d(pc, "busybox", "sleep", "60")
    b = _run_d(pc, "busybox", "sleep", "60")
    r = pc("stop", "-t", "0", a, "nosuch", b)
    assert r.returncode == 125
    assert r.stdout.split() == [a, b]
    assert r.stderr.strip() == "pycore: No such container: nosuch"
    r = pc("wait", a, "nosuch", b)
    assert (r.returncode, r.stdout.split()) == (125, ["137", "137"])
    r = pc("rm", "nosuch", a)
    assert (r.returncode, r.stdout.split()) == (125, [a])
    r = pc("rm", "-f", "nosuch", b)
    assert (r.returncode, r.stdout.split()) == (0, [b])
    assert "No such container: nosuch" in r.stderr
    assert pc("ps", "-aq", "--no-trunc").stdout.split().count(b) == 0
