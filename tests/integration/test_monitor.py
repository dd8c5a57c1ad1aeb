"""The monitor is the small `pycore-monitor` program when it is installed, not a fork of the
Python CLI: a few MB of memory for every running container."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import pycore
from tests.integration.test_run import Run, pc, root  # noqa: F401  (fixtures)

MONITOR = Path(pycore.__file__).parent / "_bin" / "pycore-monitor"

pytestmark = [pytest.mark.root, pytest.mark.needs(str(MONITOR))]


def test_the_monitor_is_the_small_binary(pc: Run, root: Path) -> None:  # noqa: F811
    cid = pc("run", "-d", "--network", "none", "busybox", "sleep", "30").stdout.strip()
    state = json.loads((root / "containers" / cid / "state.json").read_text())
    pid = state["monitor_pid"]
    # The monitor runs from a detached read-only bind mount of the binary (CVE-2019-5736), so
    # its exe link names no path; the file behind it is the installed binary all the same.
    exe, installed = Path(f"/proc/{pid}/exe").stat(), MONITOR.stat()
    assert (exe.st_dev, exe.st_ino) == (installed.st_dev, installed.st_ino)
    status = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    rss_kb = int(status["VmRSS"].split()[0])
    assert rss_kb < 6 * 1024, f"monitor RSS {rss_kb} kB"
    assert pc("rm", "-f", cid).returncode == 0
