"""The images a save writes: each stored manifest with the names to record for it."""

from __future__ import annotations

from pathlib import Path

from pycore.digest import Digest
from pycore.oci.models import Manifest
from pycore.store.index import ImageRecord
from pycore.store.store import Store
from pycore.structs import struct


@struct(frozen=True, slots=True)
class ExportImage:
    digest: Digest  # of the manifest
    manifest_bytes: bytes
    manifest: Manifest
    names: tuple[str, ...]  # fully qualified; may be empty (saved by id)

    @property
    def blobs(self) -> tuple[Digest, ...]:
        """Config and layers, in manifest order."""
        return (self.manifest.config.digest, *(x.digest for x in self.manifest.layers))


def collect(store: Store, wanted: list[tuple[ImageRecord, tuple[str, ...]]]) -> list[ExportImage]:
    """One ExportImage per distinct image, in the order first asked for, names merged."""
    by_digest: dict[Digest, tuple[ImageRecord, tuple[str, ...]]] = {}
    for record, names in wanted:
        _, old = by_digest.get(record.manifest, (record, ()))
        by_digest[record.manifest] = (record, tuple(dict.fromkeys((*old, *names))))
    out = []
    for digest, (_, names) in by_digest.items():
        data = store.read_blob(digest)
        out.append(ExportImage(digest, data, Manifest.parse(data), names))
    return out


def blob_files(store: Store, images: list[ExportImage]) -> dict[Digest, Path]:
    """Every blob the images need (manifests first, then configs and layers), each once."""
    files: dict[Digest, Path] = {}
    for image in images:
        files.setdefault(image.digest, Path(store.blob_path(image.digest)))
    for image in images:
        for digest in image.blobs:
            files.setdefault(digest, Path(store.blob_path(digest)))
    return files
