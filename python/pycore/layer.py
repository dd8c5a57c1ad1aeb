"""Layers as files: verify and extract a layer blob, pack a directory into one.

The public API behind `pycore layer` and the image pull/build paths. The work is done
natively in one streaming pass (see `pycore._native`); this module parses arguments at the edge.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pycore import native
from pycore.digest import Digest
from pycore.errors import UsageError
from pycore.native import LayerDigests

# The whiteout format of an unpacked or packed layer, and a layer blob's compression.
Whiteouts = Literal["overlay", "flat"]
Compression = Literal["gzip", "zstd", "none"]

__all__ = ["Compression", "LayerDigests", "Whiteouts", "pack", "unpack"]

_WHITEOUTS = ("overlay", "flat")
_COMPRESSIONS = ("gzip", "zstd", "none")


def _digest(value: Digest | str | None) -> Digest | None:
    if value is None or isinstance(value, Digest):
        return value
    return Digest.parse(value)


def unpack(
    blob: Path | str,
    dest: Path | str,
    *,
    digest: Digest | str | None = None,
    size: int | None = None,
    diff_id: Digest | str | None = None,
    whiteouts: Whiteouts = "overlay",
    progress: Callable[[int], None] | None = None,
) -> LayerDigests:
    """Verify and extract the layer blob `blob` into `dest` (created if missing).

    gzip, zstd or plain tar is detected by magic bytes. `digest` and `size` are checked against
    the blob as stored, `diff_id` against the uncompressed tar. `whiteouts="overlay"` keeps OCI
    whiteouts as overlayfs expects them; `"flat"` applies them to `dest`. `progress` is called
    with the compressed bytes read so far, at most every 4 MiB; an exception it raises aborts
    the unpack and propagates.

    Raises InvalidDigest for a malformed digest string, UsageError for a bad `whiteouts` value,
    DigestMismatch when the digest, diff_id or size does not match, LayerError for a corrupt,
    truncated or malicious layer (the message names the entry), OSError when the blob cannot
    be read. On any error `dest` holds a partial tree: discard it.
    """
    if whiteouts not in _WHITEOUTS:
        raise UsageError(f"whiteouts must be one of {', '.join(_WHITEOUTS)}, not {whiteouts!r}")
    if size is not None and size < 0:
        raise UsageError(f"size must not be negative, not {size}")
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    return native.unpack_layer(
        Path(blob),
        dest,
        whiteouts=whiteouts,
        digest=_digest(digest),
        size=size,
        diff_id=_digest(diff_id),
        progress=progress,
    )


def pack(src: Path | str, out: Path | str, *, compression: Compression = "gzip") -> LayerDigests:
    """Pack the directory `src` into the new layer blob `out` (which must not exist).

    Entries are sorted by name and carry no packing-time data, so the same tree always gives
    the same digest. Overlay whiteouts in `src` become OCI `.wh.` entries. gzip uses level 6
    (what Docker and BuildKit emit), zstd level 3.

    Raises UsageError for an unknown compression, LayerError when the tree cannot be read,
    OSError when `out` exists or cannot be written.
    """
    if compression not in _COMPRESSIONS:
        raise UsageError(
            f"compression must be one of {', '.join(_COMPRESSIONS)}, not {compression!r}"
        )
    return native.pack_layer(Path(src), Path(out), compression=compression)
