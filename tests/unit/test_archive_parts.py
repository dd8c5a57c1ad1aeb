"""Pure parts of archive, import and bootstrap: member-name safety, format detection on small
hand-made tars, platform mapping, apt source parsing, bootstrap targets."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from pycore.archive.bundle import TarBundle, compression_of, named_digest, safe_member_name
from pycore.bootstrap import Target, host_mirror, is_static_elf
from pycore.digest import Digest
from pycore.errors import ArchiveError, UsageError
from pycore.importer import stream_layer
from pycore.oci import mediatypes as mt
from pycore.oci.models import Platform
from pycore.oci.platform import host_platform, matches

HEX = "a" * 64


def _tar(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.mark.parametrize(
    ("name", "want"),
    [("manifest.json", "manifest.json"), ("./index.json", "index.json"), ("blobs/", "blobs")],
)
def test_safe_member_names(name: str, want: str) -> None:
    assert safe_member_name(name) == want


@pytest.mark.parametrize("name", ["/etc/passwd", "../x", "blobs/../../x", "a\\b"])
def test_unsafe_member_names_are_refused(name: str) -> None:
    with pytest.raises(ArchiveError):
        safe_member_name(name)


def test_named_digest() -> None:
    assert named_digest(f"blobs/sha256/{HEX}") == Digest("sha256", HEX)
    assert named_digest(f"{HEX}.json") == Digest("sha256", HEX)
    assert named_digest(f"{HEX}/layer.tar") is None


def test_compression_magic() -> None:
    assert compression_of(b"\x1f\x8b\x08") == "gzip"
    assert compression_of(b"\x28\xb5\x2f\xfd") == "zstd"
    assert compression_of(b"ustar") == "none"


def test_tar_bundle_keeps_expected_names_and_hashes_them(tmp_path: Path) -> None:
    data = _tar({"manifest.json": b"[]", "junk.txt": b"x", f"blobs/sha256/{HEX}": b"blob"})
    bundle = TarBundle(io.BytesIO(data), tmp_path, "t.tar")
    assert bundle.has("manifest.json")
    assert not bundle.has("junk.txt")
    assert bundle.digest(f"blobs/sha256/{HEX}") == Digest.sha256_of(b"blob")


def test_tar_bundle_refuses_traversal(tmp_path: Path) -> None:
    data = _tar({"../../etc/cron.d/x": b"boom"})
    with pytest.raises(ArchiveError, match=r"'\.\.'"):
        TarBundle(io.BytesIO(data), tmp_path, "t.tar")


def test_tar_bundle_reports_truncation(tmp_path: Path) -> None:
    data = _tar({f"blobs/sha256/{HEX}": b"x" * 5000})[:2048]
    with pytest.raises(ArchiveError, match="truncated or corrupt"):
        TarBundle(io.BytesIO(data), tmp_path, "t.tar")


def test_host_platform_mapping() -> None:
    assert host_platform("x86_64") == Platform("linux", "amd64")
    assert host_platform("aarch64") == Platform("linux", "arm64", "v8")
    assert matches(Platform("linux", "arm64", "v8"), Platform("linux", "arm64"))
    assert not matches(Platform("linux", "amd64"), Platform("linux", "arm64"))
    assert not matches(Platform("linux", "amd64"), None)


def test_stream_layer_plain_and_gzip(tmp_path: Path) -> None:
    import gzip

    plain = _tar({"etc/motd": b"hi\n"})
    layer = stream_layer(io.BytesIO(plain), tmp_path / "a", "t")
    assert layer.digest == layer.diff_id == Digest.sha256_of(plain)
    assert layer.media_type == mt.OCI_LAYER
    packed = gzip.compress(plain) + gzip.compress(b"")  # two members, as pigz may write
    layer = stream_layer(io.BytesIO(packed), tmp_path / "b", "t")
    assert layer.diff_id == Digest.sha256_of(plain)
    assert layer.digest == Digest.sha256_of(packed)
    assert layer.media_type == mt.OCI_LAYER_GZIP


def test_stream_layer_refuses_non_tar(tmp_path: Path) -> None:
    with pytest.raises(ArchiveError, match="not a tar"):
        stream_layer(io.BytesIO(b"hello world\n" * 100), tmp_path / "a", "t")
    with pytest.raises(ArchiveError, match="empty"):
        stream_layer(io.BytesIO(b""), tmp_path / "b", "t")


def test_host_mirror_deb822_and_one_line(tmp_path: Path) -> None:
    apt = tmp_path / "apt"
    (apt / "sources.list.d").mkdir(parents=True)
    (apt / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\n# a comment\nURIs: http://mirror.example/debian-security\n"
        "Suites: bookworm-security\nComponents: main\n\n"
        "Types: deb deb-src\nURIs: http://mirror.example/debian/\n"
        "Suites: bookworm bookworm-updates\nComponents: main\n"
    )
    assert host_mirror(apt).uri == "http://mirror.example/debian"
    (apt / "sources.list").write_text(
        "deb [arch=amd64] http://other.example/debian bookworm main\n"
    )
    assert host_mirror(apt).uri == "http://other.example/debian"
    assert host_mirror(tmp_path / "none").uri == "http://deb.debian.org/debian"


def test_bootstrap_targets() -> None:
    assert Target.parse("busybox").name == "docker.io/library/busybox:latest"
    debian = Target("debian", "bookworm", "docker.io/library/debian:bookworm")
    assert Target.parse("debian") == debian
    assert Target.parse("debian:trixie", "me/deb:1").name == "docker.io/me/deb:1"
    with pytest.raises(UsageError):
        Target.parse("alpine")


def test_static_elf_detection() -> None:
    if Path("/bin/busybox").exists():
        assert is_static_elf(Path("/bin/busybox"))
    assert not is_static_elf(Path("/bin/ls"))
