"""cp (both ways, tar streams, running and stopped, symlinks that point out of the root),
diff, export, commit, rename, container prune and rmi of an image in use, through the CLI."""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.containers import Run, busybox_root, cli_with_teardown

pytestmark = pytest.mark.root

SETUP = (
    "echo hi > /tmp/new; rm /etc/group; ln -s /etc/passwd /x; ln -s / /up; "
    "mkdir /d; echo a > /d/a; chmod 640 /d/a"
)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return busybox_root(tmp_path_factory, "ctrfs")


@pytest.fixture
def pc(root: Path) -> Iterator[Run]:
    yield from cli_with_teardown(root)


@pytest.fixture
def ctr(pc: Run) -> str:
    r = pc("run", "--name", "fs1", "busybox", "sh", "-c", SETUP)
    assert r.returncode == 0, r.stderr
    return "fs1"


def test_cp_out_gives_the_link_not_the_host_file(pc: Run, ctr: str, tmp_path: Path) -> None:
    assert pc("cp", f"{ctr}:/x", str(tmp_path)).returncode == 0
    assert os.readlink(tmp_path / "x") == "/etc/passwd"
    # Through a link to / the path stays in the container: its passwd, not the host's.
    assert pc("cp", f"{ctr}:/up/etc/passwd", str(tmp_path / "p")).returncode == 0
    assert (tmp_path / "p").read_text().startswith("root:x:0:0:root:/root:/bin/sh")
    assert (tmp_path / "p").read_text() != Path("/etc/passwd").read_text()
    # A directory, its modes kept.
    assert pc("cp", f"{ctr}:/d", str(tmp_path / "d2")).returncode == 0
    assert (tmp_path / "d2" / "a").read_text() == "a\n"
    assert (tmp_path / "d2" / "a").stat().st_mode & 0o777 == 0o640
    r = pc("cp", f"{ctr}:/nope", str(tmp_path))
    assert (
        r.returncode == 1
        and r.stderr.strip() == "pycore: Could not find the file /nope in container fs1"
    )


def test_cp_in_through_a_symlink_to_root_stays_inside(pc: Run, ctr: str, tmp_path: Path) -> None:
    src = tmp_path / "pycore-cp-probe"
    src.write_text("probe\n")
    host_target = Path("/etc") / src.name
    assert not host_target.exists()
    r = pc("cp", str(src), f"{ctr}:/up/etc/")
    assert r.returncode == 0, r.stderr
    assert not host_target.exists()
    # A file at a path that is a symlink to a host file: replaced inside the container only.
    before = Path("/etc/passwd").read_bytes()
    assert pc("cp", str(src), f"{ctr}:/x").returncode == 0
    assert Path("/etc/passwd").read_bytes() == before
    r = pc("start", "-a", ctr)  # re-runs SETUP; prove the files are in the container
    r = pc("cp", f"{ctr}:/etc/{src.name}", "-")
    assert r.returncode == 0


def test_cp_tar_streams(pc: Run, ctr: str, root: Path) -> None:
    out = subprocess.run(
        [*_argv(root), "cp", f"{ctr}:/d", "-"], capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(out)) as t:
        assert sorted(t.getnames()) == ["d", "d/a"]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        info = tarfile.TarInfo("in/from-tar")
        info.size = 3
        t.addfile(info, io.BytesIO(b"tar"))
    r = subprocess.run(
        [*_argv(root), "cp", "-", f"{ctr}:/up/tmp"], input=buf.getvalue(), capture_output=True
    )
    assert r.returncode == 0, r.stderr
    r = pc("cp", f"{ctr}:/tmp/in/from-tar", "-")
    assert r.returncode == 0 and "tar" in r.stdout


def _argv(root: Path) -> list[str]:
    import sys

    return [sys.executable, "-m", "pycore", "--root", str(root)]


def test_cp_into_a_running_container_and_its_volume(pc: Run, tmp_path: Path) -> None:
    cid = pc("run", "-d", "-v", "cpvol:/vol", "busybox", "sleep", "60").stdout.strip()
    (tmp_path / "f").write_text("live\n")
    assert pc("cp", str(tmp_path / "f"), f"{cid}:/vol/f").returncode == 0
    assert pc("cp", str(tmp_path / "f"), f"{cid}:/tmp/").returncode == 0
    r = pc("exec", cid, "cat", "/vol/f", "/tmp/f") if pc("exec", "--help").returncode == 0 else None
    if r is not None:
        assert r.stdout == "live\nlive\n", r.stderr
    assert pc("rm", "-f", cid).returncode == 0


def test_diff(pc: Run, ctr: str) -> None:
    r = pc("diff", ctr)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "A /d", "A /d/a", "C /etc", "D /etc/group", "C /tmp", "A /tmp/new", "A /up", "A /x",
    ]  # fmt: skip


def test_export_is_the_merged_tree(pc: Run, ctr: str, root: Path) -> None:
    out = subprocess.run([*_argv(root), "export", ctr], capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(out)) as t:
        names = set(t.getnames())
        assert {"bin/busybox", "tmp/new", "d/a", "x"} <= names
        assert "etc/group" not in names
        assert t.getmember("x").issym()


def test_commit_and_run_the_new_image(pc: Run, ctr: str, root: Path) -> None:
    r = pc(
        "commit",
        "-m",
        "made by a test",
        "-c",
        "ENV COMMITTED=yes",
        "-c",
        "VOLUME /data",
        ctr,
        "committed:1",
    )
    assert r.returncode == 0, r.stderr
    info = json.loads(pc("image", "inspect", "committed:1").stdout)[0]
    assert "COMMITTED=yes" in info["Config"]["Env"]
    r = pc(
        "run",
        "--rm",
        "committed:1",
        "sh",
        "-c",
        "cat /tmp/new; echo $COMMITTED; test ! -e /etc/group",
    )
    assert (r.returncode, r.stdout) == (0, "hi\nyes\n"), r.stderr
    # The image's VOLUME gets an anonymous volume; rm -v takes it away.
    cid = pc("create", "committed:1", "true").stdout.strip()
    mounts = json.loads(pc("inspect", cid).stdout)[0]["Mounts"]
    assert [(m["Type"], m["Destination"]) for m in mounts] == [("volume", "/data")]
    assert pc("rm", "-v", cid).returncode == 0
    assert not (root / "volumes" / mounts[0]["Name"]).exists()
    # rmi refuses an image a container uses, naming it.
    cid = pc("create", "committed:1", "true").stdout.strip()
    r = pc("rmi", "committed:1")
    assert r.returncode == 1 and f"container {cid[:12]}" in r.stderr
    assert pc("rm", "-v", cid).returncode == 0
    assert pc("rmi", "committed:1").returncode == 0


def test_rename_and_prune(pc: Run, ctr: str) -> None:
    assert pc("rename", ctr, "fs2").returncode == 0
    assert pc("inspect", "fs2").returncode == 0
    assert pc("inspect", ctr).returncode != 0
    other = pc("create", "--name", "taken", "busybox", "true").stdout.strip()
    r = pc("rename", "fs2", "taken")
    assert r.returncode == 125 and "is already in use" in r.stderr
    running = pc("run", "-d", "busybox", "sleep", "60").stdout.strip()
    r = pc("container", "prune", "-f")
    assert r.returncode == 0 and other in r.stdout
    assert pc("ps", "-a", "-q", "--no-trunc").stdout.split() == [running]
    assert pc("rm", "-f", running).returncode == 0
