"""Registering an image whose blobs are already in the store: unpack its layers (in parallel,
outside the lock), then add it to the index under the lock."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from pycore.digest import Digest
from pycore.errors import StoreError
from pycore.oci.models import Descriptor, ImageConfig, Manifest
from pycore.oci.models import InvalidDocument as InvalidDocumentError
from pycore.store.index import ImageIndex, ImageRecord
from pycore.store.store import Store

LayerProgress = Callable[[Descriptor, int], None]


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def unpack_layers(
    store: Store,
    manifest: Manifest,
    config: ImageConfig,
    *,
    progress: LayerProgress | None = None,
    parallel: int = 4,
) -> None:
    """Unpack every layer of `manifest` not yet in the store, several at once."""
    diff_ids = config.diff_ids
    if len(diff_ids) != len(manifest.layers):
        raise InvalidDocumentError(
            f"image config lists {len(diff_ids)} diff_ids but the manifest has "
            f"{len(manifest.layers)} layers"
        )
    todo = [
        (d, i) for d, i in zip(manifest.layers, diff_ids, strict=True) if not store.has_layer(i)
    ]
    if not todo:
        return

    def one(item: tuple[Descriptor, Digest]) -> None:
        desc, diff_id = item
        cb = (lambda n: progress(desc, n)) if progress else None
        store.unpack_layer(desc.digest, diff_id, size=desc.size, progress=cb)

    if len(todo) == 1:
        one(todo[0])
        return
    with ThreadPoolExecutor(max_workers=min(parallel, len(todo))) as pool:
        for fut in [pool.submit(one, item) for item in todo]:
            fut.result()


def _check_complete(
    store: Store, manifest: Manifest, config: ImageConfig, manifest_digest: Digest
) -> None:
    blobs = (manifest_digest, manifest.config.digest, *(x.digest for x in manifest.layers))
    for digest in blobs:
        if not store.has_blob(digest):
            raise StoreError(f"blob {digest} was removed while committing the image; retry")
    for diff_id in config.diff_ids:
        if not store.has_layer(diff_id):
            raise StoreError(f"layer {diff_id} was removed while committing the image; retry")


def commit_image(
    store: Store,
    manifest_bytes: bytes,
    names: tuple[str, ...] = (),
    *,
    progress: LayerProgress | None = None,
) -> ImageRecord:
    """Make the image whose manifest is `manifest_bytes` complete in the store and name it.

    The config and layer blobs must already be stored. The manifest is stored as given, so its
    digest is the one a registry or archive announced.
    """
    manifest = Manifest.parse(manifest_bytes)
    config = ImageConfig.parse(store.read_blob(manifest.config.digest))
    for layer in manifest.layers:
        store.blob_path(layer.digest)
    unpack_layers(store, manifest, config, progress=progress)
    manifest_digest = store.put_blob(manifest_bytes)

    def change(idx: ImageIndex) -> ImageIndex:
        # Under the lock: `rmi`/`prune` may have deleted a blob or layer we found above
        # because no image used it yet. Fail rather than index an incomplete image.
        _check_complete(store, manifest, config, manifest_digest)
        old = idx.by_manifest(manifest_digest)
        keep = old.names if old else ()
        merged = tuple(dict.fromkeys((*keep, *names)))
        record = ImageRecord(
            manifest=manifest_digest,
            config=manifest.config.digest,
            names=merged,
            added=old.added if old else now_rfc3339(),
        )
        return idx.with_image(record)

    new = store.update_index(change)
    rec = new.by_manifest(manifest_digest)
    assert rec is not None
    return rec
