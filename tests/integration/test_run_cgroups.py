"""Resource limits through the real CLI: the cgroup a container runs in (v1, v2 or hybrid, as
this host has it), its limits as the host and the container see them, OOM kills, the pids
limit, and removal of every cgroup directory."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from pycore.runtime import cgroups
from tests.integration.test_run import Run, pc, root  # noqa: F401  (fixtures)

pytestmark = pytest.mark.root

ROOT = Path("/sys/fs/cgroup")


def _memory_dir(cid: str) -> Path:
    if (ROOT / "cgroup.controllers").exists():
        return ROOT / "pycore" / cid
    return ROOT / "memory" / "pycore" / cid


def _limit_file() -> str:
    return "memory.max" if (ROOT / "cgroup.controllers").exists() else "memory.limit_in_bytes"


@pytest.fixture
def cg(pc: Run) -> Iterator[Run]:  # noqa: F811
    """`pc`, and afterwards no container cgroup of this test may be left."""
    made: list[str] = []

    def run(*args: str, **kw: object) -> object:
        r = pc(*args, **kw)
        if args[0] == "run" and "-d" in args and r.returncode == 0:  # type: ignore[attr-defined]
            made.append(r.stdout.strip())  # type: ignore[attr-defined]
        return r

    yield run  # type: ignore[misc]
    for cid in made:
        pc("rm", "-f", cid)
    left = [d for cid in made for d in cgroups.container_dirs(cid)]
    for d in left:
        d.rmdir()
    assert not left, f"cgroups left: {left}"


def test_limits_are_written_before_the_process_runs(cg: Run) -> None:
    cid = cg(
        "run", "-d", "-m", "64m", "--cpus", "0.5", "--cpu-shares", "512", "--pids-limit", "50",
        "busybox", "sh", "-c", "cat /proc/self/cgroup; sleep 30",
    ).stdout.strip()  # fmt: skip
    mem = _memory_dir(cid)
    assert (mem / _limit_file()).read_text().strip() == str(64 << 20)
    if (ROOT / "cgroup.controllers").exists():
        assert (ROOT / "pycore" / cid / "cpu.max").read_text().split() == ["50000", "100000"]
        assert (ROOT / "pycore" / cid / "pids.max").read_text().strip() == "50"
    else:
        cpu = ROOT / "cpu" / "pycore" / cid
        assert (cpu / "cpu.cfs_quota_us").read_text().strip() == "50000"
        assert (cpu / "cpu.shares").read_text().strip() == "512"
        assert (ROOT / "pids" / "pycore" / cid / "pids.max").read_text().strip() == "50"
        if (ROOT / "unified" / "cgroup.controllers").exists():
            assert (ROOT / "unified" / "pycore" / cid).is_dir()
    state = json.loads(cg("inspect", cid).stdout)[0]
    pid = state["State"]["Pid"]
    # The container's process is in its cgroup in every hierarchy (host view)...
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        hier, path = line.split(":", 2)[1:]
        if hier in ("memory", "pids", "cpu,cpuacct", "cpu", ""):
            assert path == f"/pycore/{cid}", line
    # ...and, inside its own cgroup namespace, sees that cgroup as the root.
    inner = [ln.split(":", 2)[2] for ln in cg("logs", cid).stdout.splitlines() if ":" in ln]
    assert inner and set(inner) == {"/"}, inner
    assert state["HostConfig"]["Memory"] == 64 << 20
    assert state["HostConfig"]["NanoCpus"] == 500_000_000


def test_memory_limit_visible_inside_through_proc(cg: Run) -> None:
    # No cgroupfs is mounted inside; /proc/self/cgroup shows the namespace root, and the
    # limit bites: see the OOM test. Here: the container runs at all with a limit and --rm.
    r = cg("run", "--rm", "-m", "32m", "busybox", "cat", "/proc/self/cgroup")
    assert r.returncode == 0, r.stderr
    assert all(ln.endswith(":/") for ln in r.stdout.splitlines())


def test_oom_kill_is_137_and_recorded(cg: Run) -> None:
    cid = cg(
        "run", "-d", "-m", "32m", "--memory-swap", "32m",
        "busybox", "dd", "if=/dev/zero", "of=/dev/null", "bs=100M", "count=1",
    ).stdout.strip()  # fmt: skip
    assert cg("wait", cid).stdout.strip() == "137"
    state = json.loads(cg("inspect", cid).stdout)[0]["State"]
    assert state["OOMKilled"] is True
    assert state["ExitCode"] == 137


def test_no_oom_flag_for_a_plain_kill(cg: Run) -> None:
    cid = cg("run", "-d", "-m", "32m", "busybox", "sleep", "30").stdout.strip()
    cg("kill", cid)
    assert cg("wait", cid).stdout.strip() == "137"
    assert json.loads(cg("inspect", cid).stdout)[0]["State"]["OOMKilled"] is False


def test_pids_limit_refuses_forks(cg: Run) -> None:
    script = "for i in 1 2 3 4 5 6 7 8 9 10; do sleep 5 & done; echo all forked"
    r = cg("run", "--rm", "--pids-limit", "5", "busybox", "sh", "-c", script)
    assert r.returncode != 0
    assert "can't fork" in r.stderr
    assert "all forked" not in r.stdout
    ok = cg("run", "--rm", "--pids-limit", "50", "busybox", "sh", "-c", script)
    assert ok.returncode == 0, ok.stderr


def test_cgroups_removed_on_exit_and_rm(cg: Run) -> None:
    cid = cg("run", "-d", "-m", "64m", "busybox", "sleep", "30").stdout.strip()
    assert cgroups.container_dirs(cid)
    assert cg("rm", "-f", cid).returncode == 0
    assert cgroups.container_dirs(cid) == []
    cid = cg("run", "-d", "busybox", "true").stdout.strip()
    assert cg("wait", cid).stdout.strip() == "0"
    assert cgroups.container_dirs(cid) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-m", "1m"], "Minimum memory limit"),
        (["-m", "lots"], "invalid size"),
        (["--memory-swap", "64m"], "Memory limit"),
        (["-m", "64m", "--memory-swap", "32m"], "memoryswap limit"),
        (["--cpus", "99"], "range of CPUs"),
    ],
)
def test_bad_limits_are_usage_errors(cg: Run, args: list[str], message: str) -> None:
    r = cg("run", "--rm", *args, "busybox", "true")
    assert r.returncode == 125
    assert message in r.stderr
    assert "Traceback" not in r.stderr
