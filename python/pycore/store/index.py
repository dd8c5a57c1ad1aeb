"""The image index (`images/index.json`): which images exist and the names that point at them.

An image is keyed by its manifest digest; its id is the config digest, as Docker shows it.
The file is read without the lock (it is only ever replaced by rename) and rewritten under it.
"""

from __future__ import annotations

import os

from pycore import jsonio
from pycore.digest import Digest
from pycore.errors import InvalidDigest, StoreError
from pycore.store import atomic
from pycore.structs import replace, struct

TYPE_CHECKING = False  # not typing's: importing typing costs every CLI start
if TYPE_CHECKING:
    from typing import Any

INDEX_VERSION = 1


@struct(frozen=True, slots=True)
class ImageRecord:
    manifest: Digest
    config: Digest
    names: tuple[str, ...]  # fully qualified references, e.g. docker.io/library/busybox:latest
    added: str  # RFC 3339, when the image entered this store

    def to_json(self) -> dict[str, Any]:
        return {
            "manifest": str(self.manifest),
            "config": str(self.config),
            "names": list(self.names),
            "added": self.added,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ImageRecord:
        return cls(
            manifest=Digest.parse(d["manifest"]),
            config=Digest.parse(d["config"]),
            names=tuple(d.get("names", [])),
            added=str(d.get("added", "")),
        )


@struct(frozen=True, slots=True)
class ImageIndex:
    images: tuple[ImageRecord, ...] = ()

    def by_manifest(self, manifest: Digest) -> ImageRecord | None:
        return next((r for r in self.images if r.manifest == manifest), None)

    def by_name(self, name: str) -> ImageRecord | None:
        return next((r for r in self.images if name in r.names), None)

    def with_image(self, record: ImageRecord) -> ImageIndex:
        """Add or replace `record`; its names move to it from any other image."""
        taken = set(record.names)
        others = tuple(
            replace(r, names=tuple(n for n in r.names if n not in taken))
            for r in self.images
            if r.manifest != record.manifest
        )
        return ImageIndex((*others, record))

    def without(self, manifest: Digest) -> ImageIndex:
        return ImageIndex(tuple(r for r in self.images if r.manifest != manifest))

    def untag(self, name: str) -> ImageIndex:
        return ImageIndex(
            tuple(replace(r, names=tuple(n for n in r.names if n != name)) for r in self.images)
        )


def read(path: str | os.PathLike[str]) -> ImageIndex:
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        return ImageIndex()
    try:
        d = jsonio.loads(raw)
        return ImageIndex(tuple(ImageRecord.from_json(x) for x in d["images"]))
    except (ValueError, KeyError, TypeError, InvalidDigest) as e:
        raise StoreError(f"image index {path} is corrupt ({e}); run 'pycore system check'") from e


def write(path: str | os.PathLike[str], index: ImageIndex) -> None:
    atomic.write_json(
        path, {"version": INDEX_VERSION, "images": [r.to_json() for r in index.images]}
    )
