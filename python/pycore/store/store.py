"""The Store: content-addressed blobs, unpacked layers keyed by diff_id, and the image index.

Blobs are written to a scratch name, verified, made read-only and renamed into place; a layer
is unpacked into scratch space and appears under `layers/` by one rename. Only renames and
index rewrites happen under the store lock.
"""

from __future__ import annotations

import errno
import os

from pycore import native
from pycore.digest import Digest
from pycore.errors import DigestMismatch, NotFound, StoreError
from pycore.store import atomic, index, lock, workdir
from pycore.store.layout import STORE_VERSION, Layout

TYPE_CHECKING = False  # not typing's: importing typing costs every CLI start
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from contextlib import AbstractContextManager
    from pathlib import Path

    StrPath = str | os.PathLike[str]


class Store:
    """One pycore state root. Cheap to open; safe to use from several processes at once.
    Paths it returns are strings (no pathlib on the run path)."""

    def __init__(self, root: StrPath) -> None:
        self.layout = Layout(os.fspath(root))

    @classmethod
    def open(cls, root: StrPath) -> Store:
        """Open (creating if needed) the store at `root` and sweep what dead commands left."""
        store = cls(root)
        store._init()
        return store

    def _init(self) -> None:
        lay = self.layout
        try:
            try:
                with open(lay.version_file, "rb") as f:
                    version = f.read().decode(errors="replace").strip()
            except FileNotFoundError:
                os.makedirs(lay.root, mode=0o711, exist_ok=True)
                for d in lay.all_dirs():
                    os.makedirs(d, mode=0o700, exist_ok=True)
                atomic.write_bytes(lay.version_file, STORE_VERSION.encode() + b"\n")
            else:
                if version != STORE_VERSION:
                    raise StoreError(
                        f"store {lay.root} has version {version!r}, expected {STORE_VERSION!r}"
                    )
                for d in lay.all_dirs():
                    os.makedirs(d, mode=0o700, exist_ok=True)
        except PermissionError as e:
            raise StoreError(f"cannot use store {lay.root}: {e.strerror}") from e
        workdir.sweep(lay.tmp)

    # -- locking and scratch space -------------------------------------------------------

    def locked(self) -> AbstractContextManager[None]:
        """The store lock; hold it only for renames and index rewrites."""
        return lock.locked(self.layout.lock_file)

    def workdir(self, prefix: str) -> AbstractContextManager[Path]:
        """Scratch directory (a `pathlib.Path`) on the store's filesystem, removed afterwards."""
        return workdir.workdir(self.layout.tmp, prefix)

    def discard(self, path: StrPath) -> None:
        """Remove a tree: first renamed into tmp/ (atomic), then deleted."""
        trash = self.move_to_trash(path)
        if trash is not None:
            workdir.remove_tree(trash)

    def move_to_trash(self, path: StrPath) -> str | None:
        """Rename `path` into tmp/ (fast, atomic; do it under the lock) and return the new
        name, to be removed with `workdir.remove_tree` after the lock is released. A dead
        command's trash is swept by the next `Store.open`. None when `path` does not exist."""
        trash = f"{self.layout.tmp}/trash-{os.getpid()}-{os.urandom(6).hex()}"
        try:
            os.rename(path, trash)
        except FileNotFoundError:
            return None
        return trash

    # -- blobs ---------------------------------------------------------------------------

    def has_blob(self, digest: Digest) -> bool:
        return os.path.exists(self.layout.blob(digest))

    def blob_path(self, digest: Digest) -> str:
        path = self.layout.blob(digest)
        if not os.path.exists(path):
            raise NotFound(f"blob {digest} not found in the store")
        return path

    def read_blob(self, digest: Digest) -> bytes:
        """Read a small blob (manifest, config), checking it against its digest."""
        try:
            with open(self.layout.blob(digest), "rb") as f:
                data = f.read()
        except FileNotFoundError:
            raise NotFound(f"blob {digest} not found in the store") from None
        actual = Digest.sha256_of(data)
        if actual != digest:
            raise DigestMismatch(f"blob {digest} is corrupt: its content hashes to {actual}")
        return data

    def put_blob(self, data: bytes) -> Digest:
        """Store an in-memory blob; returns its digest."""
        digest = Digest.sha256_of(data)
        target = self.layout.blob(digest)
        if not os.path.exists(target):
            atomic.write_bytes(target, data, mode=0o444)
        return digest

    def ingest_blob(
        self,
        src: StrPath,
        expected: Digest | None = None,
        size: int | None = None,
        *,
        verified: bool = False,
    ) -> Digest:
        """Move the file `src` (on the store's filesystem, e.g. in a workdir) into the blob store,
        after checking it against `expected` and `size`. `src` is consumed. `verified` says the
        caller already hashed exactly these bytes to `expected` (while they streamed in): the
        file is then not read again, only its size checked."""
        actual_size = os.stat(src).st_size
        if size is not None and actual_size != size:
            raise DigestMismatch(
                f"blob {expected or os.path.basename(src)}: size mismatch: expected {size}, "
                f"got {actual_size}"
            )
        if verified and expected is not None:
            self._place_blob(src, expected)
            return expected
        digest = native.sha256_file(src)
        if expected is not None and digest != expected:
            raise DigestMismatch(f"blob digest mismatch: expected {expected}, got {digest}")
        self._place_blob(src, digest)
        return digest

    def _place_blob(self, src: StrPath, digest: Digest) -> None:
        target = self.layout.blob(digest)
        if os.path.exists(target):
            os.unlink(src)
            return
        os.chmod(src, 0o444)
        os.rename(src, target)

    def blobs(self) -> Iterator[Digest]:
        for name in os.listdir(self.layout.blobs):
            if not name.startswith("."):
                yield Digest("sha256", name)

    def remove_blob(self, digest: Digest) -> None:
        try:
            os.unlink(self.layout.blob(digest))
        except FileNotFoundError:
            pass

    # -- layers --------------------------------------------------------------------------

    def has_layer(self, diff_id: Digest) -> bool:
        return os.path.isdir(self.layout.layer(diff_id))

    def layer_path(self, diff_id: Digest) -> str:
        path = self.layout.layer(diff_id)
        if not os.path.isdir(path):
            raise NotFound(f"layer {diff_id} not found in the store")
        return path

    def layers(self) -> Iterator[Digest]:
        for name in os.listdir(self.layout.layers):
            if not name.startswith("."):
                yield Digest("sha256", name)

    def unpack_layer(
        self,
        blob: Digest,
        diff_id: Digest,
        *,
        size: int | None = None,
        progress: Callable[[int], None] | None = None,
        source: int | None = None,
    ) -> str:
        """Make the unpacked layer `diff_id` exist, extracting the stored blob `blob` if needed.

        `source`, when given, is a readable descriptor (a pipe fed by a download) carrying the
        blob's bytes instead of the stored blob; it is read to EOF, not closed. Both digests
        (and the size, when given) are verified while extracting; a mismatch leaves nothing
        behind. Safe to call concurrently for the same layer.
        """
        target = self.layout.layer(diff_id)
        if os.path.isdir(target):
            return target
        with self.workdir("unpack") as work:
            dest = work / "layer"
            dest.mkdir()
            native.unpack_layer(
                self.blob_path(blob) if source is None else source,
                dest,
                digest=blob,
                size=size,
                diff_id=diff_id,
                progress=progress,
                what=f"layer {blob.short}",
            )
            self._place_layer(dest, target)
        return target

    def _place_layer(self, dest: StrPath, target: str) -> None:
        try:
            os.rename(dest, target)
        except OSError as e:
            # Another command placed the same layer first: theirs is identical, keep it.
            if e.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise

    def remove_layer(self, diff_id: Digest) -> None:
        self.discard(self.layout.layer(diff_id))

    # -- the image index -----------------------------------------------------------------

    def read_index(self) -> index.ImageIndex:
        return index.read(self.layout.image_index)

    def update_index(
        self, change: Callable[[index.ImageIndex], index.ImageIndex]
    ) -> index.ImageIndex:
        """Apply `change` to the current index under the lock and write the result."""
        with self.locked():
            new = change(self.read_index())
            index.write(self.layout.image_index, new)
            return new
