"""Atomic writes and the sweep of the temp files a killed write leaves."""

from __future__ import annotations

import os
from pathlib import Path

from pycore.store import atomic
from tests.helpers.procs import dead_pid


def test_write_json_replaces_whole_files_compact_or_indented(tmp_path: Path) -> None:
    target = tmp_path / "d" / "v.json"
    atomic.write_json(target, {"a": [1, 2]}, indent=2)
    assert target.read_text() == '{\n  "a": [\n    1,\n    2\n  ]\n}\n'
    atomic.write_json(target, {"a": [1, 2]})  # compact unless asked
    assert target.read_text() == '{"a":[1,2]}\n'
    assert os.listdir(target.parent) == ["v.json"]


def test_sweep_removes_temps_of_dead_writers_only(tmp_path: Path) -> None:
    dead = dead_pid()
    killed = tmp_path / f".e.json.tmp-{dead}-140000"
    live = tmp_path / f".f.json.tmp-{os.getpid()}-140001"
    kept = [tmp_path / "e.json", tmp_path / ".hidden", tmp_path / "x.tmp-1-2"]
    for p in (killed, live, *kept):
        p.write_text("{}")
    assert atomic.sweep_temps(tmp_path) == [killed.name]
    assert sorted(os.listdir(tmp_path)) == sorted(p.name for p in (live, *kept))
    assert atomic.sweep_temps(tmp_path / "missing") == []
