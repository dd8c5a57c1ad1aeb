"""Scratch directories under a store's tmp/: made and removed around their block, and swept
when their owner is gone (`kill -9`), never while it lives."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pycore.store import workdir
from tests.helpers.procs import dead_pid


def test_a_workdir_lives_for_its_block(tmp_path: Path) -> None:
    with workdir.workdir(tmp_path, "unpack") as work:
        assert isinstance(work, Path) and work.is_dir() and work.parent == tmp_path
        (work / "d").mkdir()
        (work / "d" / "f").write_text("x")
        os.chmod(work / "d", 0o500)  # read-only, as layer directories may be
        assert (tmp_path / f"{work.name}.lock").exists()
    assert os.listdir(tmp_path) == []


def test_a_workdir_goes_when_its_block_raises(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), workdir.workdir(str(tmp_path), "pull"):
        raise RuntimeError("boom")
    assert os.listdir(tmp_path) == []


def test_the_sweep_takes_what_dead_owners_left_and_nothing_else(tmp_path: Path) -> None:
    dead = dead_pid()
    # A scratch dir whose lock nobody holds (its command was killed): swept.
    (tmp_path / f"unpack-{dead}-aa").mkdir()
    (tmp_path / f"unpack-{dead}-aa" / "f").write_text("x")
    (tmp_path / f"unpack-{dead}-aa.lock").write_text("")
    # Trash renamed here by a dead command: swept; by a live one: kept.
    (tmp_path / f"trash-{dead}-bb").mkdir()
    (tmp_path / f"trash-{os.getpid()}-cc").mkdir()
    # A scratch dir in use (its lock held, here by this process's own workdir): kept.
    with workdir.workdir(tmp_path, "pull") as live:
        assert workdir.sweep(tmp_path) == 2
        left = sorted(os.listdir(tmp_path))
        assert left == sorted([f"trash-{os.getpid()}-cc", live.name, f"{live.name}.lock"])
        assert (live / "..").resolve() == tmp_path.resolve() and live.is_dir()
    assert os.listdir(tmp_path) == [f"trash-{os.getpid()}-cc"]
    assert workdir.sweep(tmp_path / "missing") == 0


def test_remove_tree_never_follows_a_symlink(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("x")
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "link").symlink_to(outside)
    workdir.remove_tree(tmp_path / "link-to-outside-missing")  # missing: nothing to do
    (tmp_path / "top-link").symlink_to(outside)
    workdir.remove_tree(tmp_path / "top-link")
    workdir.remove_tree(str(tree))
    assert not (tmp_path / "top-link").exists() and not tree.exists()
    assert (outside / "keep").read_text() == "x"
