"""pycore.layer.unpack/pack on real files (root): every path attack, broken blobs, digests,
sparse files, whiteouts, ownership/modes/xattrs/links/devices, and the pack round trip."""

from __future__ import annotations

import gzip
import io
import os
import stat
import tarfile
from pathlib import Path

import pytest

from pycore import layer
from pycore.errors import DigestMismatch, LayerError

pytestmark = pytest.mark.root

Member = tuple[tarfile.TarInfo, bytes]


def info(name: str, kind: bytes = tarfile.REGTYPE, **kw: object) -> tarfile.TarInfo:
    t = tarfile.TarInfo(name)
    t.type = kind
    t.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    t.mtime = 1_600_000_000
    for k, v in kw.items():
        setattr(t, k, v)
    return t


def f(name: str, data: bytes = b"", **kw: object) -> Member:
    t = info(name, **kw)
    t.size = len(data)
    return t, data


def d(name: str, **kw: object) -> Member:
    return info(name, tarfile.DIRTYPE, **kw), b""


def sym(name: str, target: str) -> Member:
    return info(name, tarfile.SYMTYPE, linkname=target), b""


def hard(name: str, target: str) -> Member:
    return info(name, tarfile.LNKTYPE, linkname=target), b""


def tar_bytes(members: list[Member], fmt: int = tarfile.PAX_FORMAT) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        for ti, data in members:
            t.addfile(ti, io.BytesIO(data) if data else None)
    return buf.getvalue()


class Area:
    """tmp/dest is extracted into; tmp/sentinel must never change."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.dest = tmp / "dest"
        self.sentinel = tmp / "sentinel"
        self.sentinel.mkdir()
        (self.sentinel / "keep").write_bytes(b"keep")
        self.blob = tmp / "blob"

    def unpack(self, data: bytes, **kw: object) -> layer.LayerDigests:
        self.blob.write_bytes(data)
        return layer.unpack(self.blob, self.dest, **kw)  # type: ignore[arg-type]

    def assert_contained(self) -> None:
        assert sorted(p.name for p in self.tmp.iterdir()) == ["blob", "dest", "sentinel"]
        assert [p.name for p in self.sentinel.iterdir()] == ["keep"]
        assert (self.sentinel / "keep").read_bytes() == b"keep"


@pytest.fixture
def area(tmp_path: Path) -> Area:
    return Area(tmp_path)


# --- attacks ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "members",
    [
        [f("../sentinel/keep", b"evil")],
        [f("a/../../sentinel/evil", b"evil")],
        [hard("h", "../sentinel/keep")],
        [f("../.wh.sentinel")],
        [f(".wh..")],
        [f("x/.wh...")],
        [f(".", b"x")],
    ],
    ids=[
        "dotdot",
        "inner-dotdot",
        "hardlink-dotdot",
        "whiteout-dotdot",
        "wh-dot",
        "wh-dotdot",
        "root-as-file",
    ],
)
@pytest.mark.parametrize("whiteouts", ["overlay", "flat"])
def test_escapes_are_refused_naming_the_entry(
    area: Area, members: list[Member], whiteouts: str
) -> None:
    with pytest.raises(LayerError, match=r'entry ".*": refused'):
        area.unpack(tar_bytes(members), whiteouts=whiteouts)
    area.assert_contained()


def test_pax_path_override_with_dotdot_is_refused(area: Area) -> None:
    t, data = f("innocent", b"evil")
    t.pax_headers = {"path": "../sentinel/keep"}
    with pytest.raises(LayerError, match=r'entry "../sentinel/keep": refused'):
        area.unpack(tar_bytes([(t, data)]))
    area.assert_contained()


def test_absolute_names_are_contained(area: Area) -> None:
    area.unpack(tar_bytes([f(str(area.sentinel / "keep"), b"evil"), f("/etc/x", b"y")]))
    assert (area.dest / str(area.sentinel / "keep").lstrip("/")).read_bytes() == b"evil"
    assert (area.dest / "etc/x").read_bytes() == b"y"
    area.assert_contained()


def test_symlinks_out_are_resolved_inside(area: Area) -> None:
    members = [
        d("sentinel"),
        sym("rel", "../sentinel"),
        sym("abs", str(area.sentinel)),
        f("rel/keep", b"evil"),  # lands in dest/sentinel/keep
        d(str(area.sentinel).lstrip("/")),
        f("abs/new", b"evil"),  # lands in dest/<abs sentinel>/new
        sym("link", "../sentinel/keep"),
        f("link", b"replaced"),  # replaces the symlink itself
    ]
    area.unpack(tar_bytes(members))
    area.assert_contained()
    assert (area.dest / "sentinel/keep").read_bytes() == b"evil"
    assert (area.dest / str(area.sentinel).lstrip("/") / "new").read_bytes() == b"evil"
    assert (area.dest / "link").read_bytes() == b"replaced"


def test_symlink_parent_to_missing_outside_dir_fails(area: Area) -> None:
    with pytest.raises(LayerError, match=r'entry "out/x"'):
        area.unpack(tar_bytes([sym("out", str(area.tmp / "nowhere")), f("out/x", b"e")]))
    area.assert_contained()


@pytest.mark.parametrize("target", ["abs", "viasym"])
def test_hardlinks_resolve_inside(area: Area, target: str) -> None:
    keep = str(area.sentinel / "keep")
    link = keep if target == "abs" else "out/keep"
    with pytest.raises(LayerError, match=r'entry "h"'):
        area.unpack(tar_bytes([sym("out", str(area.sentinel)), hard("h", link)]))
    area.assert_contained()
    assert (area.sentinel / "keep").stat().st_nlink == 1


def test_flat_whiteout_through_symlink_stays_inside(area: Area) -> None:
    area.unpack(tar_bytes([sym("s", str(area.tmp)), f("s/.wh.sentinel")]), whiteouts="flat")
    area.assert_contained()


def test_overlay_xattrs_from_the_layer_are_dropped(area: Area) -> None:
    t, data = f("x", b"1")
    t.pax_headers = {
        "SCHILY.xattr.trusted.overlay.redirect": "/etc",
        "SCHILY.xattr.security.selinux": "label",
        "SCHILY.xattr.user.keep": "v",
    }
    area.unpack(tar_bytes([(t, data)]))
    assert os.listxattr(area.dest / "x") == ["user.keep"]


# --- broken and mismatched blobs -------------------------------------------------------


def test_corrupt_gzip(area: Area) -> None:
    blob = bytearray(gzip.compress(tar_bytes([f("a", os.urandom(200_000))])))
    blob[len(blob) // 2] ^= 0xFF
    with pytest.raises(LayerError, match=r"corrupt gzip|mismatch"):
        area.unpack(bytes(blob))


def test_truncated_tar_names_the_entry(area: Area) -> None:
    data = tar_bytes([f("first", b"1"), f("big", b"x" * 10_000)])
    with pytest.raises(LayerError, match=r'entry "big".*truncated'):
        area.unpack(data[:3000])


def test_bad_header_checksum(area: Area) -> None:
    data = bytearray(tar_bytes([f("a", b"1"), f("b", b"2")], fmt=tarfile.USTAR_FORMAT))
    data[1024 + 3] ^= 1
    with pytest.raises(LayerError, match="bad header checksum"):
        area.unpack(bytes(data))


@pytest.mark.parametrize("kind", ["digest", "size", "diff_id"])
def test_mismatches_name_kind_expected_and_actual(area: Area, kind: str) -> None:
    blob = gzip.compress(tar_bytes([f("a", b"1")]))
    good = area.unpack(blob)
    wrong: dict[str, object] = {
        "digest": "sha256:" + "0" * 64,
        "size": good.size + 1,
        "diff_id": "sha256:" + "1" * 64,
    }
    actual = {"digest": good.digest, "size": good.size, "diff_id": good.diff_id}[kind]
    with pytest.raises(
        DigestMismatch, match=f"{kind} mismatch: expected {wrong[kind]}, got {actual}"
    ):
        area.unpack(blob, **{kind: wrong[kind]})


def test_trailing_bytes_are_hashed(area: Area) -> None:
    data = tar_bytes([f("a", b"1")]) + b"\0" * 4096
    d = area.unpack(data)
    import hashlib

    assert d.diff_id == "sha256:" + hashlib.sha256(data).hexdigest() == d.digest
    assert d.size == len(data)


def test_progress_exception_aborts(area: Area) -> None:
    blob = gzip.compress(tar_bytes([f("a", os.urandom(9 << 20))]), compresslevel=1)

    def boom(n: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        area.unpack(blob, progress=boom)
    seen: list[int] = []
    area.unpack(blob, progress=seen.append)
    assert seen and seen == sorted(seen) and seen[-1] <= len(blob)


# --- what lands on disk ----------------------------------------------------------------


def test_metadata_links_devices(area: Area) -> None:
    t, data = f("bin/su", b"#!", mode=0o4755, uid=1000, gid=2000)
    t.pax_headers = {"SCHILY.xattr.security.capability": "\x01\x00\x00\x02" + "\x00" * 16}
    members = [
        d("bin", mode=0o555),
        (t, data),
        hard("bin/su2", "bin/su"),
        sym("bin/sh", "su"),
        (info("dev/null", tarfile.CHRTYPE, devmajor=1, devminor=3, mode=0o666), b""),
        (info("dev/loop0", tarfile.BLKTYPE, devmajor=7, devminor=0), b""),
        (info("fifo", tarfile.FIFOTYPE, mode=0o600), b""),
        d("tmp", mode=0o1777, uid=5, gid=6),
    ]
    area.unpack(tar_bytes(members))
    su = (area.dest / "bin/su").stat()
    assert (stat.S_IMODE(su.st_mode), su.st_uid, su.st_gid) == (0o4755, 1000, 2000)
    assert su.st_nlink == 2 and su.st_mtime == 1_600_000_000
    assert (area.dest / "bin/su2").stat().st_ino == su.st_ino
    assert "security.capability" in os.listxattr(area.dest / "bin/su")
    assert os.readlink(area.dest / "bin/sh") == "su"
    assert stat.S_IMODE((area.dest / "bin").stat().st_mode) == 0o555
    assert (area.dest / "bin").stat().st_mtime == 1_600_000_000
    null = (area.dest / "dev/null").lstat()
    assert (
        stat.S_ISCHR(null.st_mode) and os.major(null.st_rdev) == 1 and os.minor(null.st_rdev) == 3
    )
    assert stat.S_ISBLK((area.dest / "dev/loop0").lstat().st_mode)
    assert stat.S_ISFIFO((area.dest / "fifo").lstat().st_mode)
    tmp = (area.dest / "tmp").stat()
    assert (stat.S_IMODE(tmp.st_mode), tmp.st_uid, tmp.st_gid) == (0o1777, 5, 6)


def test_gnu_long_names_and_base256(area: Area) -> None:
    long = "d/" + "n" * 150
    t, data = f(long, b"x", uid=3_000_000)
    area.unpack(tar_bytes([(t, data)], fmt=tarfile.GNU_FORMAT))
    assert (area.dest / long).stat().st_uid == 3_000_000


def test_whiteouts_overlay(area: Area) -> None:
    area.unpack(tar_bytes([f("a/.wh.gone"), f("o/.wh..wh..opq"), f("o/kept", b"1")]))
    st = (area.dest / "a/gone").lstat()
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
    assert os.getxattr(area.dest / "o", "trusted.overlay.opaque") == b"y"
    assert not (area.dest / "a/.wh.gone").exists() and (area.dest / "o/kept").exists()


def test_whiteouts_flat(area: Area) -> None:
    area.unpack(
        tar_bytes(
            [d("o"), f("o/old"), d("o/sub"), f("o/sub/old"), f("gone"), d("dir"), f("dir/x")]
        ),
        whiteouts="flat",
    )
    upper = [f("o/sub/new", b"2"), f("o/.wh..wh..opq"), f(".wh.gone"), f(".wh.dir"), f("new")]
    area.unpack(tar_bytes(upper), whiteouts="flat")
    assert sorted(os.listdir(area.dest)) == ["new", "o"]
    assert sorted(os.listdir(area.dest / "o")) == ["sub"]
    assert sorted(os.listdir(area.dest / "o/sub")) == ["new"]


def test_sparse_4gib_hole(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    with open(src / "big", "wb") as fh:
        fh.truncate(4 << 30)
        fh.seek((4 << 30) - 1)
        fh.write(b"\1")
    blob = tmp_path / "l.zst"
    layer.pack(src, blob, compression="zstd")
    out = tmp_path / "out"
    layer.unpack(blob, out)
    st = (out / "big").stat()
    assert st.st_size == 4 << 30
    assert st.st_blocks * 512 < 1 << 20


# --- pack ------------------------------------------------------------------------------


def make_tree(root: Path) -> None:
    (root / "etc/sub").mkdir(parents=True)
    (root / "etc/sub/file").write_bytes(b"data" * 1000)
    os.chown(root / "etc/sub/file", 1000, 1000)
    os.chmod(root / "etc/sub/file", 0o2751)
    os.link(root / "etc/sub/file", root / "etc/hard")
    os.symlink("sub/file", root / "etc/link")
    os.mknod(root / "null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    os.mkfifo(root / "fifo")
    (root / ("long" * 40)).write_bytes(b"l")
    os.setxattr(root / "etc/sub/file", "user.k", b"v")
    with open(root / "sparse", "wb") as fh:
        fh.truncate(64 << 20)
    os.mknod(root / "gone", stat.S_IFCHR, 0)
    (root / "opq").mkdir()
    os.setxattr(root / "opq", "trusted.overlay.opaque", b"y")
    os.chmod(root / "etc", 0o700)
    for p in sorted(root.rglob("*"), reverse=True):
        os.utime(p, (1_500_000_000, 1_500_000_000), follow_symlinks=False)


def snapshot(root: Path) -> dict[str, tuple[object, ...]]:
    out: dict[str, tuple[object, ...]] = {}
    for p in sorted(root.rglob("*")):
        st = p.lstat()
        link = os.readlink(p) if p.is_symlink() else None
        xattrs = {} if p.is_symlink() else {k: os.getxattr(p, k) for k in os.listxattr(p)}
        size = st.st_size if stat.S_ISREG(st.st_mode) else 0
        whiteout = stat.S_ISCHR(st.st_mode) and st.st_rdev == 0  # carries no mtime
        mtime = None if whiteout else int(st.st_mtime)
        out[str(p.relative_to(root))] = (
            st.st_mode,
            st.st_uid,
            st.st_gid,
            mtime,
            size,
            st.st_rdev,
            link,
            xattrs,
            st.st_nlink,
        )
    return out


@pytest.mark.parametrize("compression", ["gzip", "zstd", "none"])
def test_pack_unpack_round_trip(tmp_path: Path, compression: layer.Compression) -> None:
    src = tmp_path / "src"
    src.mkdir()
    make_tree(src)
    packed = layer.pack(src, tmp_path / "blob", compression=compression)
    assert packed.compression == compression
    out = tmp_path / "out"
    got = layer.unpack(
        tmp_path / "blob", out, digest=packed.digest, diff_id=packed.diff_id, size=packed.size
    )
    assert got.entries == packed.entries
    assert snapshot(out) == snapshot(src)
    assert (out / "sparse").stat().st_blocks == 0


def test_pack_is_deterministic_and_refuses_existing_out(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    for root in (a, b):
        root.mkdir()
        make_tree(root)
    first = layer.pack(a, tmp_path / "1")
    second = layer.pack(b, tmp_path / "2")
    assert (first.digest, first.diff_id) == (second.digest, second.diff_id)
    assert (tmp_path / "1").read_bytes()[4:8] == b"\0\0\0\0"  # gzip mtime 0
    with pytest.raises(FileExistsError):
        layer.pack(a, tmp_path / "1")


def test_pack_emits_oci_whiteouts(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    make_tree(src)
    layer.pack(src, tmp_path / "blob", compression="none")
    with tarfile.open(tmp_path / "blob") as t:
        names = t.getnames()
        assert ".wh.gone" in names and "opq/.wh..wh..opq" in names
        assert names.index("opq/.wh..wh..opq") == names.index("opq") + 1
        assert not any(n.startswith("./") or n == "." for n in names)
        hard_member = t.getmember("etc/sub/file")
        assert hard_member.islnk() and hard_member.linkname == "etc/hard"
        assert all(m.uname == "" and m.gname == "" for m in t.getmembers())
