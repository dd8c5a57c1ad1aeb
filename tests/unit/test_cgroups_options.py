"""Resource options and restart policies parsed as Docker parses them; the sweep of cgroups
left by killed monitors (on a fake hierarchy)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pycore.errors import UsageError
from pycore.runtime import cgroups, restart


def test_sizes() -> None:
    assert cgroups.parse_size("64m") == 64 << 20
    assert cgroups.parse_size("1G") == 1 << 30
    assert cgroups.parse_size("512kb") == 512 << 10
    assert cgroups.parse_size("100") == 100
    with pytest.raises(UsageError):
        cgroups.parse_size("12x")


def test_resources_to_oci() -> None:
    assert cgroups.parse() is None
    r = cgroups.parse(memory="64m", cpus="0.5", cpu_shares=512, pids_limit=10)
    assert r is not None
    assert r.oci() == {
        "memory": {"limit": 64 << 20, "swap": 128 << 20},
        "cpu": {"shares": 512, "quota": 50_000, "period": 100_000},
        "pids": {"limit": 10},
    }
    r = cgroups.parse(memory="64m", memory_swap="-1")
    assert r is not None and r.oci()["memory"]["swap"] == -1
    r = cgroups.parse(pids_limit=0)
    assert r is not None and r.oci() == {"pids": {"limit": -1}}
    with pytest.raises(UsageError, match="Minimum memory"):
        cgroups.parse(memory="4m")
    with pytest.raises(UsageError, match="larger than memory"):
        cgroups.parse(memory="64m", memory_swap="32m")


def test_restart_policies() -> None:
    assert str(restart.parse("on-failure:2")) == "on-failure:2"
    assert restart.parse(None).name == "no"
    assert restart.parse("always").host_config() == {"Name": "always", "MaximumRetryCount": 0}
    for bad in ("never", "always:1", "on-failure:-1"):
        with pytest.raises(UsageError):
            restart.parse(bad)


def test_sweep_removes_only_old_empty_cgroups(tmp_path: Path) -> None:
    for h in ("memory", "pids"):
        (tmp_path / h).mkdir()
        (tmp_path / h / "cgroup.procs").write_text("")
        (tmp_path / h / "pycore" / "old").mkdir(parents=True)
        (tmp_path / h / "pycore" / "new").mkdir()
        (tmp_path / h / "pycore" / "busy").mkdir()
        (tmp_path / h / "pycore" / "busy" / "x").write_text("")  # rmdir fails: "in use"
        os.utime(tmp_path / h / "pycore" / "old", (0, 0))
        os.utime(tmp_path / h / "pycore" / "busy", (0, 0))
    assert sorted(cgroups.sweep(tmp_path)) == ["old", "old"]
    found = sorted(Path(d).parent.parent.name for d in cgroups.container_dirs("new", tmp_path))
    assert found == ["memory", "pids"]
    assert cgroups.container_dirs("busy", tmp_path)
    cgroups.remove("new", tmp_path)
    assert cgroups.container_dirs("new", tmp_path) == []
