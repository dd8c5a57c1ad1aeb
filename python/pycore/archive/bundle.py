"""The files of an image archive, by their name inside it: a tar streamed into a workdir, or a
directory. Tar member names are untrusted: only names of the known archive shapes are kept,
and absolute names or names with `..` are refused.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
import tarfile
import zlib
from pathlib import Path
from typing import IO, BinaryIO

from pycore import native
from pycore.digest import Digest
from pycore.errors import ArchiveError
from pycore.structs import struct

# JSON documents (manifest.json, index.json, configs, manifests) are read into memory; a
# bigger one is not an image document but an attack on our memory.
MAX_DOCUMENT = 16 << 20
_CHUNK = 1 << 20

# Every file name a docker-archive (docker save v1.10+, Docker 25+, skopeo/podman) or an OCI
# layout holds. Anything else is skipped unread.
_EXPECTED = re.compile(
    r"(manifest\.json|repositories|index\.json|oci-layout"
    r"|[0-9a-f]{64}\.json|[0-9a-f]{64}\.tar"
    r"|[0-9a-f]{64}/(?:layer\.tar|json|VERSION)"
    r"|blobs/sha256/[0-9a-f]{64})"
)
# The hex a name promises its content hashes to (`blobs/sha256/<hex>`, `<hex>.json`).
_NAMED_DIGEST = re.compile(r"(?:blobs/sha256/([0-9a-f]{64})|([0-9a-f]{64})\.json)")
_MAX_LINK_HOPS = 8

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def compression_of(head: bytes) -> str:
    """`gzip`, `zstd` or `none`, from a stream's first bytes."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    return "none"


def safe_member_name(unsafe_name: str) -> str:
    """The normalized name of a tar member, or ArchiveError if it escapes the archive."""
    name = unsafe_name
    while name.startswith("./"):
        name = name[2:]
    name = name.rstrip("/")
    if unsafe_name.startswith("/") or "\\" in name or "\x00" in name:
        raise ArchiveError(f"archive member {unsafe_name!r}: absolute or malformed name refused")
    if any(part == ".." for part in name.split("/")):
        raise ArchiveError(f"archive member {unsafe_name!r}: '..' in a name refused")
    return name


def named_digest(name: str) -> Digest | None:
    """The digest a member's name promises, when the name is content-addressed."""
    m = _NAMED_DIGEST.fullmatch(name)
    if not m:
        return None
    return Digest("sha256", m.group(1) or m.group(2))


@struct(frozen=True, slots=True)
class Entry:
    """One stored file of the archive."""

    path: Path
    size: int
    digest: Digest | None  # known when it was hashed while extracting
    head: bytes  # the first bytes, for compression detection


class Bundle:
    """The files of one archive by name. Subclasses fill `_entries` / `_links`."""

    def __init__(self, description: str) -> None:
        self.description = description
        self._entries: dict[str, Entry] = {}
        self._links: dict[str, str] = {}  # name -> target name (both normalized)

    def has(self, name: str) -> bool:
        return self._resolve(name, must_exist=False) is not None

    def entry(self, name: str) -> Entry:
        """The stored file behind `name` (following links inside the archive)."""
        resolved = self._resolve(name, must_exist=True)
        assert resolved is not None
        return self._entries[resolved]

    def _lookup(self, name: str) -> Entry | None:
        return self._entries.get(name)

    def _resolve(self, name: str, *, must_exist: bool) -> str | None:
        current = name
        for _ in range(_MAX_LINK_HOPS):
            if self._lookup(current) is not None:
                return current
            target = self._links.get(current)
            if target is None:
                break
            current = target
        if must_exist:
            raise ArchiveError(f"{self.description}: {name} is missing from the archive")
        return None

    def read_document(self, name: str) -> bytes:
        """A small file (JSON document) read into memory."""
        entry = self.entry(name)
        if entry.size > MAX_DOCUMENT:
            raise ArchiveError(
                f"{self.description}: {name} is {entry.size} bytes, too big for a JSON document"
            )
        return entry.path.read_bytes()

    def digest(self, name: str) -> Digest:
        """sha256 of a file (computed now if extraction did not already)."""
        entry = self.entry(name)
        if entry.digest is not None:
            return entry.digest
        resolved = self._resolve(name, must_exist=True)
        assert resolved is not None
        digest = native.sha256_file(entry.path)
        self._entries[resolved] = Entry(entry.path, entry.size, digest, entry.head)
        return digest

    @property
    def owns_files(self) -> bool:
        """True when the files live in our workdir and may be moved into the store."""
        return False


class DirectoryBundle(Bundle):
    """A directory given by the user (an OCI layout, or an unpacked docker-archive)."""

    def __init__(self, root: Path) -> None:
        super().__init__(str(root))
        self.root = root

    def _lookup(self, name: str) -> Entry | None:
        entry = self._entries.get(name)
        if entry is not None:
            return entry
        if not _EXPECTED.fullmatch(name):
            return None
        path = self.root / name
        try:
            st = path.stat()
            with path.open("rb") as f:
                head = f.read(8)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as e:
            raise ArchiveError(f"{self.description}: cannot read {name}: {e.strerror}") from e
        if not path.is_file():
            raise ArchiveError(f"{self.description}: {name} is not a regular file")
        entry = Entry(path, st.st_size, None, head)
        self._entries[name] = entry
        return entry


class TarBundle(Bundle):
    """A tar archive (plain or gzip/bzip2/xz-compressed) streamed member by member into
    `work`, each file hashed as it is written; memory use does not depend on its size."""

    def __init__(self, stream: BinaryIO, work: Path, description: str) -> None:
        super().__init__(description)
        self._work = work
        self._extract(stream)

    @property
    def owns_files(self) -> bool:
        return True

    def _extract(self, stream: BinaryIO) -> None:
        try:
            with tarfile.open(fileobj=stream, mode="r|*") as tar:
                for member in tar:
                    self._member(tar, member)
        except ArchiveError:
            raise
        except (tarfile.TarError, EOFError, zlib.error, OSError) as e:
            why = str(e) or type(e).__name__
            raise ArchiveError(f"{self.description}: truncated or corrupt archive ({why})") from e

    def _member(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        name = safe_member_name(member.name)
        if member.isdir() or not _EXPECTED.fullmatch(name):
            return
        if member.issym():
            target = safe_member_name(
                posixpath.normpath(posixpath.join(posixpath.dirname(name), member.linkname))
            )
            self._links[name] = target
            return
        if member.islnk():
            self._links[name] = safe_member_name(member.linkname)
            return
        if not member.isfile():
            raise ArchiveError(f"{self.description}: {name} is not a regular file")
        src = tar.extractfile(member)
        assert src is not None
        self._entries[name] = self._copy(src, member.size)

    def _copy(self, src: IO[bytes], size: int) -> Entry:
        path = self._work / f"m{len(self._entries):06d}"
        h = hashlib.sha256()
        head = b""
        written = 0
        with path.open("wb") as out:
            while chunk := src.read(_CHUNK):
                if not head:
                    head = chunk[:8]
                h.update(chunk)
                out.write(chunk)
                written += len(chunk)
        if written != size:
            raise ArchiveError(f"{self.description}: truncated archive member")
        return Entry(path, written, Digest("sha256", h.hexdigest()), head)


def open_bundle(source: Path | BinaryIO, work: Path) -> Bundle:
    """The archive at `source`: a directory, a tar file, or a stream of a tar."""
    if isinstance(source, Path):
        if source.is_dir():
            return DirectoryBundle(source)
        try:
            f = source.open("rb")
        except OSError as e:
            raise ArchiveError(f"cannot open {source}: {e.strerror}") from e
        with f:
            _refuse_zstd(f, str(source))
            return TarBundle(f, work, str(source))
    _refuse_zstd(source, "stdin")
    return TarBundle(source, work, "stdin")


def _refuse_zstd(f: BinaryIO, what: str) -> None:
    peek = getattr(f, "peek", None)
    head = peek(4)[:4] if peek is not None else b""
    if head == ZSTD_MAGIC:
        raise ArchiveError(f"{what}: zstd-compressed archives are not supported; run 'zstd -d'")
