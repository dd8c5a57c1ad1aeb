"""Real containers from a real busybox image, through the `pycore` CLI as a subprocess.

One store per module (the image is made once with `pycore image bootstrap busybox`); every
test tears down what it started by pid (container inits and monitors, from their state files,
checked against their start times), never by name, and checks that no mount is left.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.helpers.containers import (
    Run,
    busybox_root,
    cli_with_teardown,
    mounts_under,
)
from tests.helpers.imports import HEAVY

pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return busybox_root(tmp_path_factory, "run")


@pytest.fixture
def pc(root: Path) -> Iterator[Run]:
    yield from cli_with_teardown(root)


def _wait_gone(pc: Run, cid: str) -> None:
    for _ in range(200):
        if cid not in pc("ps", "-a", "-q", "--no-trunc").stdout:
            return
        time.sleep(0.05)
    raise AssertionError(f"container {cid} still listed")


@pytest.mark.parametrize("network", [[], ["--network", "none"]], ids=["bridge", "none"])
def test_a_run_loads_no_heavy_module(root: Path, pc: Run, network: list[str]) -> None:
    """What the `pycore` command (the launcher the wheel installs) really imports for a run,
    bridge and all: none of the modules whose load costs a start milliseconds (see
    tests/unit/test_structs.py for the import-time list; `re`, `json`, `pathlib`,
    `contextlib` and what they load were ~15 ms of every start, and pip's own wrapper for an
    entry point imports `re`). The first bridged run of a store makes the bridge and its
    table with `ip` and `nft` (subprocess); like docker0 they stay, so a later run makes
    nothing of the kind."""
    assert pc("run", "--rm", *network, "busybox", "true").returncode == 0
    import pycore

    source = Path(pycore.__file__).parents[1]
    launcher = source / "pycore.data" / "scripts" / "pycore"
    # -S: without site-packages' .pth files (this host has one that imports certifi, and with
    # it typing and shutil, into every Python); pycore itself from its source directory.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYCORE_")}
    env["PYTHONPATH"] = str(source)
    argv = [sys.executable, "-S", "-X", "importtime", str(launcher), "--root", str(root)]
    out = subprocess.run(
        [*argv, "run", "--rm", *network, "busybox", "true"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    imported = {ln.rsplit("|", 1)[1].strip() for ln in out.stderr.splitlines() if "|" in ln}
    assert "pycore.runtime.containers" in imported  # the import log is the run's
    assert sorted(imported & set(HEAVY)) == []


def test_the_installed_pycore_command_runs_a_container(root: Path, pc: Run) -> None:
    """The `pycore` command the install put on PATH (the wheel's launcher, not `python -m`)
    runs a container and passes its exit code through."""
    import shutil

    exe = shutil.which("pycore")
    assert exe is not None, "no pycore command on PATH"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYCORE_")}
    out = subprocess.run(
        [exe, "--root", str(root), "run", "--rm", "busybox", "sh", "-c", "echo hi; exit 3"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert (out.returncode, out.stdout) == (3, "hi\n"), out.stderr


# -- exit codes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cmd", "code"),
    [
        (["true"], 0),
        (["sh", "-c", "exit 3"], 3),
        (["nosuchcommand"], 127),
        (["/etc/passwd"], 126),
    ],
)
def test_exit_codes(pc: Run, cmd: list[str], code: int) -> None:
    r = pc("run", "--rm", "busybox", *cmd)
    assert r.returncode == code, r.stderr
    if code == 127:
        assert 'exec "nosuchcommand"' in r.stderr


def test_killed_container_exits_137(pc: Run) -> None:
    cid = pc("run", "-d", "busybox", "sleep", "100").stdout.strip()
    assert pc("kill", cid).returncode == 0
    r = pc("wait", cid)
    assert r.stdout.strip() == "137"
    state = json.loads(pc("inspect", cid).stdout)[0]["State"]
    assert (state["Status"], state["ExitCode"], state["Running"]) == ("exited", 137, False)
    assert pc("rm", cid).returncode == 0


def test_image_not_found_is_125(pc: Run) -> None:
    r = pc("run", "--rm", "nosuchimage")
    assert r.returncode == 125
    assert "not found locally" in r.stderr or "locally" in r.stderr


# -- isolation -----------------------------------------------------------------------------


def test_isolation(pc: Run, root: Path) -> None:
    script = "hostname; echo $$; ls /proc/$$/fd | tr '\\n' ' '; echo; cat /proc/self/mountinfo"
    r = pc("run", "--rm", "--hostname", "box1", "busybox", "sh", "-c", script)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "box1"
    assert lines[1] == "1"
    assert lines[2].split() == ["0", "1", "2"]
    points = {ln.split()[4]: ln.split(" - ")[1].split()[0] for ln in lines[3:]}
    assert points["/"] == "overlay"
    # Only the container's own mounts: none of the host's (/work, /tmp, /sys/fs/cgroup...).
    ours = ("/proc", "/dev", "/sys", "/etc/hostname", "/etc/hosts", "/etc/resolv.conf")
    assert all(p == "/" or p.startswith(ours) for p in points), points
    assert "/sys/fs/cgroup" not in points
    assert mounts_under(root) == []


def test_default_hostname_is_the_short_id(pc: Run) -> None:
    r = pc("run", "-d", "busybox", "hostname")
    cid = r.stdout.strip()
    assert pc("wait", cid).stdout.strip() == "0"
    assert pc("logs", cid).stdout == cid[:12] + "\n"
    pc("rm", cid)


def test_security_defaults(pc: Run) -> None:
    r = pc("run", "--rm", "busybox", "cat", "/proc/self/status")
    status = dict(line.split(":\t", 1) for line in r.stdout.splitlines() if ":\t" in line)
    assert status["CapEff"].strip() == "00000000a80425fb"  # Docker's default set
    assert status["CapBnd"].strip() == "00000000a80425fb"
    assert status["Seccomp"].strip() == "2"
    assert status["NoNewPrivs"].strip() == "0"
    r = pc(
        "run",
        "--rm",
        "--security-opt",
        "no-new-privileges",
        "busybox",
        "grep",
        "NoNewPrivs",
        "/proc/self/status",
    )
    assert r.stdout.split() == ["NoNewPrivs:", "1"]
    # mount(2) is refused twice over: no CAP_SYS_ADMIN, and seccomp.
    r = pc("run", "--rm", "busybox", "mount", "-t", "tmpfs", "t", "/mnt")
    assert r.returncode != 0
    r = pc("run", "--rm", "busybox", "sh", "-c", "echo x > /proc/sys/kernel/hostname")
    assert r.returncode != 0


def test_network_none_has_only_loopback_up(pc: Run) -> None:
    r = pc("run", "--rm", "--network", "none", "busybox", "cat", "/proc/net/dev")
    ifaces = [ln.split(":")[0].strip() for ln in r.stdout.splitlines()[2:]]
    assert ifaces == ["lo"]
    r = pc("run", "--rm", "--network", "nosuchnet", "busybox", "true")
    assert r.returncode == 125 and "network nosuchnet not found" in r.stderr


# -- Docker's process semantics ------------------------------------------------------------


def test_env_cmd_entrypoint_workdir_user(pc: Run, tmp_path: Path) -> None:
    r = pc("run", "--rm", "-e", "FOO=bar", "busybox", "sh", "-c", "echo $FOO $HOME $PATH")
    assert r.stdout.split() == [
        "bar",
        "/root",
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    ]
    envf = tmp_path / "env"
    envf.write_text("# c\nA=1\n")
    r = pc("run", "--rm", "--env-file", str(envf), "-e", "A=2", "busybox", "sh", "-c", "echo $A")
    assert r.stdout == "2\n"
    assert (
        pc("run", "--rm", "--entrypoint", "echo", "busybox", "hi", "there").stdout == "hi there\n"
    )
    assert pc("run", "--rm", "-w", "/tmp", "busybox", "pwd").stdout == "/tmp\n"
    assert pc("run", "--rm", "-w", "/new/dir", "busybox", "pwd").stdout == "/new/dir\n"
    assert (
        pc("run", "--rm", "-u", "1000:1001", "busybox", "id").stdout
        == "uid=1000 gid=1001 groups=1001\n"
    )
    r = pc("run", "--rm", "-u", "nobody", "busybox", "sh", "-c", "id -u; echo $HOME")
    assert r.stdout.split() == ["65534", "/nonexistent"]
    r = pc("run", "--rm", "-u", "nosuchuser", "busybox", "true")
    assert r.returncode == 125 and "unable to find user nosuchuser" in r.stderr
    r = pc("run", "--rm", "-u", "1000", "busybox", "grep", "CapEff", "/proc/self/status")
    assert r.stdout.split() == ["CapEff:", "0000000000000000"]


def test_writes_stay_in_the_container(pc: Run, root: Path) -> None:
    layers = sorted(p.name for p in (root / "layers").iterdir())
    r = pc("run", "--rm", "busybox", "sh", "-c", "echo x > /bin/new && rm /bin/ls && ls /bin/new")
    assert r.returncode == 0, r.stderr
    layer = root / "layers" / layers[0]
    assert not (layer / "bin/new").exists() and (layer / "bin/ls").exists()
    assert pc("run", "--rm", "--read-only", "busybox", "touch", "/x").returncode != 0


# -- lifecycle -----------------------------------------------------------------------------


def test_rm_leaves_nothing(pc: Run, root: Path) -> None:
    before = set(os.listdir(root / "containers"))
    assert pc("run", "--rm", "busybox", "true").returncode == 0
    assert pc("run", "--rm", "busybox", "nosuch").returncode == 127
    assert set(os.listdir(root / "containers")) == before
    # The monitor deletes the renamed-away tree after reporting the exit: give it a moment.
    for _ in range(100):
        if not [p for p in os.listdir(root / "tmp") if p.startswith("rm-")]:
            break
        time.sleep(0.02)
    assert [p for p in os.listdir(root / "tmp") if p.startswith("rm-")] == []


def test_detached_logs_stop_rm(pc: Run) -> None:
    script = (
        "echo started; echo oops >&2; trap 'echo bye; exit 0' TERM; while :; do sleep 0.1; done"
    )
    r = pc("run", "-d", "--name", "web1", "busybox", "sh", "-c", script)
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    assert len(cid) == 64
    for _ in range(100):
        if "started" in pc("logs", "web1").stdout:
            break
        time.sleep(0.05)
    logs = pc("logs", "web1")
    assert logs.stdout.startswith("started\n") and logs.stderr == "oops\n"
    rows = [json.loads(line) for line in pc("ps", "--format", "json").stdout.splitlines()]
    assert [(row["Names"], row["State"]) for row in rows] == [("web1", "running")]
    assert pc("rm", "web1").returncode != 0  # running: needs -f
    assert pc("run", "-d", "--name", "web1", "busybox", "true").returncode == 125  # name taken
    t = time.monotonic()
    assert pc("stop", "web1").returncode == 0
    assert time.monotonic() - t < 5
    assert pc("wait", "web1").stdout.strip() == "0"
    assert "bye" in pc("logs", "web1").stdout
    assert pc("ps", "-q").stdout == ""
    assert pc("ps", "-a", "-q").stdout.strip() == cid[:12]
    assert pc("rm", "web1").returncode == 0
    assert pc("ps", "-a", "-q").stdout == ""


def test_create_start_and_force_rm(pc: Run) -> None:
    cid = pc("create", "busybox", "sleep", "100").stdout.strip()
    assert json.loads(pc("inspect", cid).stdout)[0]["State"]["Status"] == "created"
    assert pc("start", cid[:8]).returncode == 0
    assert json.loads(pc("inspect", cid).stdout)[0]["State"]["Status"] == "running"
    assert pc("rm", "-f", cid).returncode == 0
    _wait_gone(pc, cid)


def test_concurrent_detached_runs_get_unique_names(pc: Run) -> None:
    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(lambda _: pc("run", "-d", "busybox", "sleep", "30"), range(20)))
    assert all(r.returncode == 0 for r in results), [r.stderr for r in results]
    rows = [json.loads(line) for line in pc("ps", "--format", "json").stdout.splitlines()]
    assert len(rows) == 20
    assert len({row["Names"] for row in rows}) == 20
    ids = [r.stdout.strip() for r in results]
    assert pc("rm", "-f", *ids).returncode == 0


def test_kill_9_of_the_monitor_is_reported(pc: Run, root: Path) -> None:
    cid = pc("run", "-d", "busybox", "sleep", "100").stdout.strip()
    state = json.loads((root / "containers" / cid / "state.json").read_text())
    os.kill(state["monitor_pid"], signal.SIGKILL)
    os.kill(state["pid"], signal.SIGKILL)
    for _ in range(100):
        inspect = json.loads(pc("inspect", cid).stdout)[0]["State"]
        if inspect["Status"] == "exited":
            break
        time.sleep(0.05)
    assert inspect["Status"] == "exited" and inspect["ExitCode"] == 255
    assert pc("rm", cid).returncode == 0


def test_foreground_signal_is_forwarded(root: Path, pc: Run) -> None:
    # `pc` only for its teardown: a container left behind by a failure is removed by pid.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYCORE_")}
    script = "trap 'echo got-term; exit 7' TERM; echo ready; while :; do sleep 0.1; done"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pycore",
            "--root",
            str(root),
            "run",
            "--rm",
            "busybox",
            "sh",
            "-c",
            script,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == "ready\n"
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 7, err
    assert out == "got-term\n"
