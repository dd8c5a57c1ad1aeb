"""`-v`, `--mount` and `--tmpfs` parsing (pycore.runtime.mounts): Docker's grammar and errors."""

from __future__ import annotations

import pytest

from pycore.errors import UsageError
from pycore.runtime.mounts import (
    MountSpec,
    parse_all,
    parse_mount,
    parse_size,
    parse_tmpfs,
    parse_volume,
    tmpfs_options,
)


def test_volume_forms() -> None:
    assert parse_volume("/data") == MountSpec("volume", "/data")
    assert parse_volume("/data:ro") == MountSpec("volume", "/data", read_only=True)
    assert parse_volume("v1:/data") == MountSpec("volume", "/data", "v1")
    assert parse_volume("v1:/data:ro,nocopy") == MountSpec(
        "volume", "/data", "v1", read_only=True, no_copy=True
    )
    assert parse_volume("/h:/c//x/") == MountSpec("bind", "/c/x", "/h", create_source=True)
    assert parse_volume("/h:/c:ro,rslave,z").read_only
    assert parse_volume("/h:/c:rslave").propagation == "rslave"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "invalid volume specification"),
        ("a:b:c:d", "invalid volume specification"),
        ("v1:rel", "mount path must be absolute"),
        ("bad name!:/x", "invalid characters for a local volume name"),
        ("/h:/c:bogus", "invalid mode: bogus"),
        ("/h:/", "destination can't be '/'"),
        ("/h:/a/../b", "'..' is not allowed"),
    ],
)
def test_volume_errors(spec: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_volume(spec)


def test_mount_forms() -> None:
    assert parse_mount("type=bind,source=/h,target=/c,readonly") == MountSpec(
        "bind", "/c", "/h", read_only=True
    )
    assert parse_mount("type=volume,src=v1,dst=/c,volume-nocopy") == MountSpec(
        "volume", "/c", "v1", no_copy=True
    )
    assert parse_mount("target=/c") == MountSpec("volume", "/c")
    m = parse_mount("type=tmpfs,destination=/t,tmpfs-size=64m,tmpfs-mode=1770")
    assert m.tmpfs_options == ("size=67108864", "mode=1770")
    assert parse_mount("type=bind,src=/h,dst=/c,ro=false").read_only is False


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("type=nfs,target=/x", "invalid mount type"),
        ("type=bind,target=/x", "field Source must not be empty"),
        ("type=bind,source=rel,target=/x", "mount path must be absolute"),
        ("type=tmpfs,source=x,target=/x", "source is not allowed"),
        ("type=volume,source=v1", "field Target must not be empty"),
        ("type=volume,target=/x,colour=red", "unexpected key 'colour'"),
        ("type=bind,source=/h,target=/x,readonly=maybe", "invalid value for readonly"),
    ],
)
def test_mount_errors(spec: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_mount(spec)


def test_tmpfs_and_sizes() -> None:
    m = parse_tmpfs("/run:size=1m,mode=1777,exec")
    assert m == MountSpec("tmpfs", "/run", tmpfs_options=("size=1048576", "mode=1777", "exec"))
    assert tmpfs_options(m) == ["nosuid", "nodev", "rw", "size=1048576", "mode=1777", "exec"]
    assert tmpfs_options(parse_tmpfs("/t:ro")) == ["noexec", "nosuid", "nodev", "ro"]
    assert parse_size("65536") == 65536
    assert parse_size("64k") == 65536
    assert parse_size("1g") == 1 << 30
    with pytest.raises(UsageError):
        parse_size("lots")


def test_duplicate_targets_are_refused() -> None:
    with pytest.raises(UsageError, match="Duplicate mount point: /x"):
        parse_all(["v1:/x"], [], ["/x"])
    assert len(parse_all(["v1:/x"], ["type=tmpfs,target=/y"], ["/z"])) == 3
