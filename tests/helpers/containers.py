"""Shared pieces of the container integration tests: the CLI against one store, the busybox
store made once per module, and the teardown that kills leftover container processes by pid
(checked against their start times) and fails on leftover mounts or processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pycore.runtime.records import is_alive

Run = Callable[..., "subprocess.CompletedProcess[str]"]


def pycore_at(root: Path, *args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYCORE_")}
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        [sys.executable, "-m", "pycore", "--root", str(root), *args],
        capture_output=True,
        text=kw.pop("text", True),
        check=False,
        stdin=kw.pop("stdin", subprocess.DEVNULL) if "input" not in kw else None,
        env=env,
        timeout=kw.pop("timeout", 60),
        **kw,
    )


def busybox_root(tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    root = tmp_path_factory.mktemp(name) / "root"
    r = pycore_at(root, "image", "bootstrap", "busybox")
    assert r.returncode == 0, r.stderr
    return root


def processes(root: Path) -> list[tuple[int, int]]:
    """(pid, start time) of every container init and monitor recorded under `root`."""
    found = []
    for state in (root / "containers").glob("*/state.json"):
        try:
            s = json.loads(state.read_text())
        except (OSError, ValueError):
            continue
        for pid, start in (
            (s.get("pid"), s.get("pid_start")),
            (s.get("monitor_pid"), s.get("monitor_start")),
        ):
            if is_alive(pid, start):
                found.append((pid, start))
    return found


def mounts_under(path: Path) -> list[str]:
    return [ln for ln in Path("/proc/self/mountinfo").read_text().splitlines() if str(path) in ln]


def network_leftovers(root: Path) -> list[str]:
    """Links, the nft table, netns pins and run directory of this store that still exist."""
    try:
        cfg = json.loads((root / "networks" / "config.json").read_text())
    except FileNotFoundError:
        return []
    found = [
        f"link {n}"
        for n in os.listdir("/sys/class/net")
        if n.startswith(cfg["tag"]) or n == cfg["bridge"]
    ]
    table = subprocess.run(["nft", "list", "table", "ip", cfg["table"]], capture_output=True)
    if table.returncode == 0:
        found.append(f"table {cfg['table']}")
    if Path(cfg["run_dir"]).exists():
        found.append(f"dir {cfg['run_dir']}")
    mounts = Path("/proc/self/mountinfo").read_text()
    found += [f"mount {ln.split()[4]}" for ln in mounts.splitlines() if cfg["run_dir"] in ln]
    return found


def cli_with_teardown(root: Path) -> Iterator[Run]:
    """The body of a `pc` fixture: yields the CLI; afterwards removes every container through
    pycore (so endpoints, cgroups and anonymous volumes go with them), kills what is still
    left by pid, sweeps the store's networks, and fails on leftover processes, mounts, links,
    rules or netns pins."""

    def run(*args: str, **kw: object) -> subprocess.CompletedProcess[str]:
        return pycore_at(root, *args, **kw)

    yield run
    ids = run("ps", "-aq", "--no-trunc").stdout.split()
    if ids:
        run("rm", "-f", "-v", *ids)
    leftovers = processes(root)
    for pid, start in leftovers:
        if is_alive(pid, start):
            os.kill(pid, signal.SIGKILL)
    for d in ("containers", "volumes"):
        for entry in (root / d).iterdir() if (root / d).is_dir() else ():
            subprocess.run(["rm", "-rf", str(entry)], check=False)
    run("network", "cleanup", "--all")
    assert not mounts_under(root), "mounts left on the host"
    assert not leftovers, f"processes left running: {leftovers}"
    assert not network_leftovers(root), network_leftovers(root)
