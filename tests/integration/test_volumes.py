"""Volumes, bind mounts and tmpfs through the real CLI: persistence, pre-fill from the image,
read-only, in-use refusal, rm -v, ls/inspect/rm/prune, and mount targets that are symlinks."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.containers import Run, busybox_root, cli_with_teardown

pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return busybox_root(tmp_path_factory, "volumes")


@pytest.fixture
def pc(root: Path) -> Iterator[Run]:
    yield from cli_with_teardown(root)


def test_named_volume_persists_across_containers(pc: Run, root: Path) -> None:
    r = pc("run", "--rm", "-v", "data1:/data", "busybox", "sh", "-c", "echo kept > /data/f")
    assert r.returncode == 0, r.stderr
    r = pc("run", "--rm", "-v", "data1:/data", "busybox", "cat", "/data/f")
    assert (r.returncode, r.stdout) == (0, "kept\n"), r.stderr
    assert (root / "volumes" / "data1" / "_data" / "f").read_text() == "kept\n"
    meta = json.loads((root / "volumes" / "data1" / "volume.json").read_text())
    assert meta["name"] == "data1" and meta["anonymous"] is False


def test_a_new_volume_is_filled_from_the_image(pc: Run, root: Path) -> None:
    r = pc("run", "--rm", "-v", "etc1:/etc", "busybox", "cat", "/etc/passwd")
    assert r.returncode == 0 and r.stdout.startswith("root:"), r.stderr
    data = root / "volumes" / "etc1" / "_data"
    st = (data / "passwd").stat()
    assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (0, 0, 0o644)
    # Not refilled once it has content: a deletion stays.
    (data / "group").unlink()
    assert pc("run", "--rm", "-v", "etc1:/etc", "busybox", "test", "-e", "/etc/group").returncode
    # nocopy leaves a new volume empty.
    r = pc("run", "--rm", "-v", "etc2:/etc:nocopy", "busybox", "true")
    assert r.returncode == 0, r.stderr
    assert not (root / "volumes" / "etc2" / "_data" / "passwd").exists()


def test_read_only_refuses_writes(pc: Run, tmp_path: Path) -> None:
    r = pc("run", "--rm", "-v", "ro1:/data:ro", "busybox", "touch", "/data/x")
    assert r.returncode == 1 and "Read-only file system" in r.stderr
    r = pc(
        "run", "--rm", "--mount", f"type=bind,source={tmp_path},target=/h,readonly",
        "busybox", "touch", "/h/x",
    )  # fmt: skip
    assert r.returncode == 1 and "Read-only file system" in r.stderr
    assert not (tmp_path / "x").exists()


def test_bind_shows_host_files_and_creates_a_missing_source(pc: Run, tmp_path: Path) -> None:
    (tmp_path / "hello").write_text("from host\n")
    r = pc(
        "run",
        "--rm",
        "-v",
        f"{tmp_path}:/h",
        "busybox",
        "sh",
        "-c",
        "cat /h/hello; echo w > /h/new",
    )
    assert (r.returncode, r.stdout) == (0, "from host\n"), r.stderr
    assert (tmp_path / "new").read_text() == "w\n"
    missing = tmp_path / "made" / "by-v"
    assert pc("run", "--rm", "-v", f"{missing}:/m", "busybox", "true").returncode == 0
    assert missing.is_dir()
    # --mount refuses a missing source, as Docker does, and leaves no container behind.
    r = pc("run", "--rm", "--mount", f"type=bind,src={tmp_path}/nope,dst=/m", "busybox", "true")
    assert r.returncode == 125
    assert r.stderr.strip().endswith(f"bind source path does not exist: {tmp_path}/nope")
    assert pc("ps", "-a", "-q").stdout == ""


def test_tmpfs_is_a_tmpfs(pc: Run) -> None:
    r = pc(
        "run", "--rm", "--tmpfs", "/scratch:size=1m", "--mount", "type=tmpfs,dst=/t2",
        "busybox", "grep", "-E", " /(scratch|t2) ", "/proc/mounts",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 2 and all(ln.split()[2] == "tmpfs" for ln in lines)
    scratch = next(ln for ln in lines if " /scratch " in ln)
    assert "size=1024k" in scratch and "noexec" in scratch


def test_anonymous_volumes_and_rm_v(pc: Run, root: Path) -> None:
    cid = pc("create", "-v", "/anon", "busybox", "true").stdout.strip()
    mounts = json.loads(pc("inspect", cid).stdout)[0]["Mounts"]
    assert [m["Destination"] for m in mounts] == ["/anon"]
    name = mounts[0]["Name"]
    assert len(name) == 64 and (root / "volumes" / name / "_data").is_dir()
    assert pc("rm", "-v", cid).returncode == 0
    assert not (root / "volumes" / name).exists()
    # Without -v the anonymous volume stays, dangling, until a prune.
    cid = pc("create", "-v", "/anon", "-v", "named1:/n", "busybox", "true").stdout.strip()
    name = json.loads(pc("inspect", cid).stdout)[0]["Mounts"][0]["Name"]
    assert pc("rm", cid).returncode == 0
    assert pc("volume", "ls", "-q", "-f", "dangling=true").stdout.split() == sorted(
        [name, "named1"]
    )
    r = pc("volume", "prune", "-f")
    assert r.returncode == 0 and name in r.stdout and "named1" not in r.stdout
    assert pc("volume", "ls", "-q").stdout.split() == ["named1"]
    r = pc("volume", "prune", "-f", "--all")
    assert "named1" in r.stdout
    assert pc("volume", "ls", "-q").stdout == ""


def test_volume_commands(pc: Run) -> None:
    assert pc("volume", "create", "--label", "a=b", "v1").stdout == "v1\n"
    assert pc("volume", "create", "v1").returncode == 0  # exists: returned as it is
    anon = pc("volume", "create").stdout.strip()
    assert len(anon) == 64
    info = json.loads(pc("volume", "inspect", "v1").stdout)[0]
    assert info["Name"] == "v1" and info["Labels"] == {"a": "b"} and info["Driver"] == "local"
    rows = json.loads(
        "[" + ",".join(pc("volume", "ls", "--format", "json").stdout.split("\n")[:-1]) + "]"
    )
    assert {r["Name"] for r in rows} == {"v1", anon}
    r = pc("volume", "inspect", "nope")
    assert r.returncode == 125 and r.stderr.strip() == "pycore: get nope: no such volume"
    assert pc("volume", "create", "bad/name").returncode == 125
    cid = pc("create", "--name", "user1", "-v", "v1:/v", "busybox", "true").stdout.strip()
    r = pc("volume", "rm", "v1")
    assert r.returncode == 125
    assert "volume is in use - [user1]" in r.stderr and "Traceback" not in r.stderr
    assert pc("volume", "ls", "-q", "-f", "dangling=false").stdout.split() == ["v1"]
    assert pc("rm", cid).returncode == 0
    assert pc("volume", "rm", "v1", anon).returncode == 0
    assert pc("volume", "rm", "v1").returncode == 125
    assert pc("volume", "rm", "-f", "v1").returncode == 0


def test_host_files_are_untouched_by_container_writes(pc: Run) -> None:
    before = os.listdir("/etc")
    r = pc("run", "--rm", "-v", "w1:/etc", "busybox", "sh", "-c", "echo x > /etc/pycore-test")
    assert r.returncode == 0, r.stderr
    assert os.listdir("/etc") == before


def test_a_bind_target_symlinked_to_etc_stays_in_the_root(pc: Run, tmp_path: Path) -> None:
    assert pc("run", "--name", "lnk", "busybox", "ln", "-s", "/etc", "/x").returncode == 0
    assert pc("commit", "lnk", "linked:1").returncode == 0
    (tmp_path / "pycore-marker").write_text("m\n")
    host_etc = sorted(os.listdir("/etc"))
    r = pc("run", "--rm", "-v", f"{tmp_path}:/x", "linked:1", "cat", "/etc/pycore-marker")
    # The mount landed on the container's own /etc (the link resolved inside the root).
    assert (r.returncode, r.stdout) == (0, "m\n"), r.stderr
    assert sorted(os.listdir("/etc")) == host_etc
    assert pc("rm", "lnk").returncode == 0
    assert pc("rmi", "linked:1").returncode == 0


def _volumes(root: Path) -> set[str]:
    return set(os.listdir(root / "volumes"))


def test_run_rm_removes_its_anonymous_volumes(pc: Run, root: Path) -> None:
    """`run --rm` (attached: before it returns) removes the container's anonymous volumes,
    not its named ones nor an anonymous one another container still uses (Docker)."""
    other = pc("create", "-v", "/shared", "busybox", "true").stdout.strip()
    shared = json.loads(pc("inspect", other).stdout)[0]["Mounts"][0]["Name"]
    r = pc("run", "--rm", "-v", "/anon", "-v", "keep1:/k", "-v", f"{shared}:/s", "busybox",
           "touch", "/anon/f")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert _volumes(root) == {"keep1", shared}
    # A failed start of an --rm container removes them too.
    r = pc("run", "--rm", "-v", "/anon", "busybox", "/no/such/command")
    assert r.returncode == 127
    assert _volumes(root) == {"keep1", shared}
    assert pc("rm", "-v", other).returncode == 0
    assert _volumes(root) == {"keep1"}


def test_run_rm_detached_removes_its_anonymous_volumes(pc: Run, root: Path) -> None:
    """`run -d --rm`: the monitor removes the container, then (its exit command) the
    container's anonymous volumes; nothing is left for `volume prune`."""
    r = pc("run", "-d", "--rm", "-v", "/anon", "-v", "keep2:/k", "busybox", "sleep", "0.2")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    assert len(_volumes(root)) == 2
    deadline = time.monotonic() + 15
    while (root / "containers" / cid).exists() or _volumes(root) != {"keep2"}:
        assert time.monotonic() < deadline, _volumes(root)
        time.sleep(0.05)
    assert pc("volume", "ls", "-q").stdout.split() == ["keep2"]
