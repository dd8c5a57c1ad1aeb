"""`kill -9` at any point: of the `pycore run -d` and `pycore rm -f` CLIs after a range of
delays, and of a running container's monitor. After each, the next commands tell the truth
(`ps -a` works and shows created, running or exited), `rm -f` removes everything, and no
process, mount, cgroup, container directory or network endpoint of the store is left.

The delays cover the whole command (its start-up, the create, the network, the spawn and
the record); which step a delay hits varies with the machine's load, not the verdict."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pycore.runtime.records import is_alive, start_time
from tests.helpers.containers import Run, busybox_root, cli_with_teardown, mounts_under, processes

pytestmark = [pytest.mark.root, pytest.mark.needs("ip", "nft")]

# Fractions of the time an unkilled command takes here: the first ones kill it while Python
# starts, the last ones while it spawns the monitor and writes the records.
FRACTIONS = (0.05, 0.3, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0)
STATES = {"created", "running", "exited"}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return busybox_root(tmp_path_factory, "crash")


@pytest.fixture
def pc(root: Path) -> Iterator[Run]:
    yield from cli_with_teardown(root)


def killed_after(root: Path, delay: float, *args: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYCORE_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "pycore", "--root", str(root), *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def listed(pc: Run) -> dict[str, str]:
    """id -> State of every container `ps -a` shows (and it must work)."""
    r = pc("ps", "-a", "--no-trunc", "--format", "json")
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert {row["State"] for row in rows} <= STATES, rows
    return {row["ID"]: row["State"] for row in rows}


def cgroups_of(cid: str) -> list[Path]:
    return [d for d in Path("/sys/fs/cgroup").glob(f"*/pycore/{cid}") if d.is_dir()]


def assert_clean(pc: Run, root: Path, known: set[str]) -> None:
    """`rm -f` of everything listed succeeds; then nothing of any container is left."""
    ids = set(listed(pc))
    alive = processes(root)
    if ids:
        r = pc("rm", "-f", *ids)
        assert r.returncode == 0, r.stderr
    # The next container command sweeps what a killed create left (a directory without a
    # record) and shows the store works.
    r = pc("run", "--rm", "--network", "none", "busybox", "true")
    assert r.returncode == 0, r.stderr
    deadline = time.monotonic() + 5
    while any(is_alive(p, s) for p, s in alive) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [p for p, s in alive if is_alive(p, s)], "processes left"
    assert listed(pc) == {}
    assert [n for n in os.listdir(root / "containers") if not n.startswith(".")] == []
    assert not mounts_under(root)
    for cid in ids | known:
        assert not cgroups_of(cid), f"cgroup of {cid[:12]} left"
    endpoints = root / "networks" / "endpoints"
    assert not (endpoints.is_dir() and os.listdir(endpoints)), "network endpoints left"


def created_ids(root: Path) -> set[str]:
    d = root / "containers"
    return {n for n in os.listdir(d) if len(n) == 64} if d.is_dir() else set()


def timed(pc: Run, *args: str) -> tuple[float, str]:
    t = time.monotonic()
    r = pc(*args)
    assert r.returncode == 0, r.stderr
    return time.monotonic() - t, r.stdout.strip()


@pytest.fixture(scope="module")
def run_time(root: Path) -> float:
    """How long `run -d` takes unkilled (its `rm -f` too, in the same store)."""
    from tests.helpers.containers import pycore_at

    t = time.monotonic()
    cid = pycore_at(root, "run", "-d", "busybox", "sleep", "60").stdout.strip()
    took = time.monotonic() - t
    assert pycore_at(root, "rm", "-f", cid).returncode == 0
    return took


@pytest.mark.parametrize("fraction", FRACTIONS)
def test_run_killed(pc: Run, root: Path, run_time: float, fraction: float) -> None:
    killed_after(root, run_time * fraction, "run", "-d", "busybox", "sleep", "60")
    known = created_ids(root)
    time.sleep(0.3)  # a monitor the CLI had started records itself
    listed(pc)
    assert_clean(pc, root, known)


@pytest.mark.parametrize("fraction", FRACTIONS)
def test_rm_killed(pc: Run, root: Path, fraction: float) -> None:
    _, cid = timed(pc, "run", "-d", "busybox", "sleep", "60")
    _, other = timed(pc, "run", "-d", "busybox", "sleep", "60")
    took, _ = timed(pc, "rm", "-f", other)
    killed_after(root, took * fraction, "rm", "-f", cid)
    assert set(listed(pc)) <= {cid}
    assert_clean(pc, root, {cid})


def test_monitor_killed(pc: Run, root: Path) -> None:
    r = pc("run", "-d", "busybox", "sleep", "60")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    state = json.loads((root / "containers" / cid / "state.json").read_text())
    os.kill(state["monitor_pid"], signal.SIGKILL)
    deadline = time.monotonic() + 5
    while is_alive(state["pid"], state["pid_start"]) and time.monotonic() < deadline:
        time.sleep(0.02)
    # The container died with its monitor; its exit code is unknown: 255, as Docker shows a
    # container whose shim died.
    assert listed(pc) == {cid: "exited"}
    row = json.loads(pc("ps", "-a", "--format", "json").stdout)
    assert row["Status"].startswith("Exited (255)")
    info = json.loads(pc("inspect", cid).stdout)[0]["State"]
    assert (info["Running"], info["ExitCode"]) == (False, 255)
    assert "monitor died" in info["Error"]
    assert_clean(pc, root, {cid})


def test_a_killed_create_is_swept(pc: Run, root: Path) -> None:
    half = root / "containers" / ("e" * 64)
    (half / "bundle").mkdir(parents=True)
    (half / "creating").write_text("999999999 1\n")  # its creator is dead
    live = root / "containers" / ("d" * 64)
    live.mkdir()
    (live / "creating").write_text(f"{os.getpid()} {start_time(os.getpid())}\n")
    _, cid = timed(pc, "create", "--network", "none", "busybox", "true")
    assert not half.exists()
    assert live.exists()  # a create in progress (this process) is left alone
    live.joinpath("creating").unlink()
    live.rmdir()
    assert pc("rm", cid).returncode == 0


def test_a_killed_create_leaves_no_anonymous_volumes(pc: Run, root: Path) -> None:
    """SIGKILL of `create` after it made an anonymous volume (while it pre-fills it from a
    large image directory) and before the record: the next create's sweep removes the
    volume with the directory. A dangling anonymous volume of a removed container and a
    named volume stay (Docker keeps them until a prune)."""
    r = pc("run", "--name", "mk", "--network", "none", "busybox", "sh", "-c",
           "mkdir /big && cd /big && seq 1 20000 | xargs touch")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert pc("commit", "mk", "big:1").returncode == 0
    assert pc("rm", "mk").returncode == 0
    kept = pc("create", "--network", "none", "-v", "/k", "-v", "named1:/n", "busybox", "true")
    assert pc("rm", kept.stdout.strip()).returncode == 0
    before = set(os.listdir(root / "volumes"))
    assert len(before) == 2
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYCORE_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "pycore", "--root", str(root), "create", "--network", "none",
         "-v", "/big", "big:1", "true"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    try:
        while not set(os.listdir(root / "volumes")) - before:
            assert proc.poll() is None and time.monotonic() < deadline, "no volume made"
            time.sleep(0.001)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    made = set(os.listdir(root / "volumes")) - before
    assert len(made) == 1
    half = [d for d in (root / "containers").iterdir() if len(d.name) == 64]
    assert len(half) == 1 and not (half[0] / "container.json").exists()
    _, cid = timed(pc, "create", "--network", "none", "busybox", "true")
    assert not half[0].exists()
    assert set(os.listdir(root / "volumes")) == before
    assert pc("rm", cid).returncode == 0
    assert pc("rmi", "big:1").returncode == 0


def test_rm_waits_for_a_start_under_way(pc: Run, root: Path) -> None:
    """A `starting` mark whose CLI lives: `rm` waits for the start to settle (here the mark's
    process, standing in for a starting CLI, exits after a second) instead of removing a
    directory a monitor is about to use."""
    _, cid = timed(pc, "create", "--network", "none", "busybox", "true")
    starter = subprocess.Popen(["sleep", "1"])
    mark = root / "containers" / cid / "starting"
    mark.write_text(f"{starter.pid} {start_time(starter.pid)}\n")
    try:
        assert listed(pc) == {cid: "created"}
        took, _ = timed(pc, "rm", cid)
        starter.wait()
    finally:
        starter.kill()
        starter.wait()
    assert took > 0.5
    assert listed(pc) == {}
