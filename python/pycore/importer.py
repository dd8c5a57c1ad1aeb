"""`pycore import`: a root filesystem tarball becomes a one-layer image.

The tarball *is* the layer, as with `docker import`: it is streamed once into a store workdir
while both digests are computed, and stored as given (plain tar, or gzip kept compressed).
Unpacking the layer re-reads it entry by entry beneath the layer root, so hostile member names
are handled there. bzip2 and xz tarballs, which OCI layers cannot be, are stored decompressed;
zstd ones are stored as given and unpacked once to learn their diff_id.
"""

from __future__ import annotations

import bz2
import hashlib
import lzma
import tarfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from pycore import native
from pycore.archive.bundle import GZIP_MAGIC, ZSTD_MAGIC
from pycore.changes import apply_changes
from pycore.digest import Digest
from pycore.errors import ArchiveError, UsageError
from pycore.oci import mediatypes as mt
from pycore.oci.models import Descriptor, ImageConfig, Manifest
from pycore.oci.platform import host_platform
from pycore.reference import Reference
from pycore.store.commit import commit_image, now_rfc3339
from pycore.store.index import ImageRecord
from pycore.store.store import Store
from pycore.structs import struct

_CHUNK = 64 << 10
_BZIP2_MAGIC = b"BZh"
_XZ_MAGIC = b"\xfd7zXZ\x00"


class _Decompressor(Protocol):
    @property
    def eof(self) -> bool: ...

    @property
    def unused_data(self) -> bytes: ...

    def decompress(self, data: bytes) -> bytes: ...


@struct(frozen=True, slots=True)
class LayerFile:
    """A layer blob written into a workdir, with what one pass over it learnt."""

    path: Path
    digest: Digest
    diff_id: Digest
    size: int
    media_type: str


def import_rootfs(
    store: Store,
    source: Path | BinaryIO,
    reference: str | None = None,
    changes: list[str] | None = None,
    message: str | None = None,
    *,
    created: str | None = None,
) -> ImageRecord:
    """Import the rootfs tarball at `source` (a path or a stream such as stdin) as an image,
    tagged `reference` when given, its config changed by Dockerfile-style `changes`.

    Raises UsageError (bad reference or change), ArchiveError (not a tar), LayerError.
    """
    names = (_name(reference),) if reference else ()
    container_config = apply_changes({}, changes or [])
    what = str(source) if isinstance(source, Path) else "-"
    when = created or now_rfc3339()
    with store.workdir("import") as work:
        if isinstance(source, Path):
            try:
                f = source.open("rb")
            except OSError as e:
                raise UsageError(f"cannot open {source}: {e.strerror}") from e
            with f:
                layer = stream_layer(f, work / "layer", what)
        else:
            layer = stream_layer(source, work / "layer", what)
        if layer.diff_id == layer.digest and layer.media_type != mt.OCI_LAYER:
            layer = _learn_diff_id(layer, work)
        history = {"created": when, "created_by": f"pycore import {what}"}
        if message:
            history["comment"] = message
        return commit_rootfs_image(
            store, layer, container_config, names, created=when, history=[history]
        )


def _name(reference: str) -> str:
    ref = Reference.parse(reference)
    if ref.digest is not None:
        raise UsageError(f"cannot tag an image with a digest reference: {reference}")
    return str(ref)


def commit_rootfs_image(
    store: Store,
    layer: LayerFile,
    container_config: dict[str, Any],
    names: tuple[str, ...],
    *,
    created: str,
    history: list[dict[str, Any]],
) -> ImageRecord:
    """Store `layer` (consumed) with a new config and manifest, and register the image."""
    plat = host_platform()
    config = ImageConfig.new(
        [layer.diff_id],
        architecture=plat.architecture,
        config=container_config,
        created=created,
        history=history,
    )
    if plat.variant:
        config.raw["variant"] = plat.variant
    store.ingest_blob(layer.path, layer.digest, layer.size)
    config_bytes = config.to_bytes()
    config_digest = store.put_blob(config_bytes)
    manifest = Manifest(
        config=Descriptor(mt.OCI_CONFIG, config_digest, len(config_bytes)),
        layers=(Descriptor(layer.media_type, layer.digest, layer.size),),
    )
    return commit_image(store, manifest.to_bytes(), names)


def stream_layer(src: BinaryIO, dest: Path, what: str) -> LayerFile:
    """Copy a tarball from `src` to `dest`, hashing it compressed and uncompressed.

    gzip is kept (its diff_id hashed through zlib); bzip2/xz are decompressed; zstd is
    copied with its diff_id left equal to its digest for the caller to learn.
    """
    first = src.read(_CHUNK)
    if not first:
        raise ArchiveError(f"{what}: empty input, expected a tar archive")
    if first.startswith(GZIP_MAGIC):
        return _copy(src, first, dest, what, lambda: zlib.decompressobj(wbits=31), True)
    if first.startswith(_BZIP2_MAGIC):
        return _copy(src, first, dest, what, bz2.BZ2Decompressor, False)
    if first.startswith(_XZ_MAGIC):
        return _copy(src, first, dest, what, lzma.LZMADecompressor, False)
    if first.startswith(ZSTD_MAGIC):
        return _copy(src, first, dest, what, None, True)
    return _copy(src, first, dest, what, None, False)


class _MultiStream:
    """Decompresses concatenated members (pigz, `cat a.gz b.gz` and pbzip2 write several)."""

    def __init__(self, new: Callable[[], _Decompressor], what: str) -> None:
        self._new = new
        self._dec = new()
        self._what = what

    def feed(self, data: bytes) -> bytes:
        out = []
        try:
            while data:
                if self._dec.eof:
                    self._dec = self._new()
                out.append(self._dec.decompress(data))
                data = self._dec.unused_data if self._dec.eof else b""
        except (zlib.error, OSError, EOFError, lzma.LZMAError) as e:
            raise ArchiveError(f"{self._what}: corrupt compressed stream ({e})") from e
        return b"".join(out)

    @property
    def complete(self) -> bool:
        return self._dec.eof


def _copy(
    src: BinaryIO,
    first: bytes,
    dest: Path,
    what: str,
    new_decompressor: Callable[[], _Decompressor] | None,
    keep_compressed: bool,
) -> LayerFile:
    raw_hash = hashlib.sha256()
    tar_hash = hashlib.sha256()
    tar_head = bytearray()
    size = 0
    dec = _MultiStream(new_decompressor, what) if new_decompressor else None
    with dest.open("wb") as out:
        chunk = first
        while chunk:
            raw_hash.update(chunk)
            plain = dec.feed(chunk) if dec else (b"" if keep_compressed else chunk)
            if plain:
                tar_hash.update(plain)
                if len(tar_head) < 512:
                    tar_head += plain[: 512 - len(tar_head)]
            data = chunk if keep_compressed else plain
            out.write(data)
            size += len(data)
            # Small reads bound what one compressed chunk can expand to in memory.
            chunk = src.read(_CHUNK)
    if dec is not None and not dec.complete:
        raise ArchiveError(f"{what}: truncated compressed stream")
    raw = Digest("sha256", raw_hash.hexdigest())
    if keep_compressed and dec is None:  # zstd: the diff_id is learnt by unpacking
        return LayerFile(dest, raw, raw, size, mt.OCI_LAYER_ZSTD)
    _check_tar_header(bytes(tar_head), what)
    if keep_compressed:
        tar = Digest("sha256", tar_hash.hexdigest())
        return LayerFile(dest, raw, tar, size, mt.OCI_LAYER_GZIP)
    digest = raw if dec is None else Digest("sha256", tar_hash.hexdigest())
    return LayerFile(dest, digest, digest, size, mt.OCI_LAYER)


def _check_tar_header(head: bytes, what: str) -> None:
    try:
        tarfile.TarInfo.frombuf(head, "utf-8", "surrogateescape")
    except tarfile.HeaderError as e:
        raise ArchiveError(f"{what}: not a tar archive ({e})") from e


def _learn_diff_id(layer: LayerFile, work: Path) -> LayerFile:
    scratch = work / "probe"
    scratch.mkdir()
    found = native.unpack_layer(layer.path, scratch, what=f"import {layer.path.name}")
    return LayerFile(
        layer.path, layer.digest, Digest.parse(found.diff_id), layer.size, layer.media_type
    )
