"""`system df`: what the store holds, by kind (images, containers, volumes, build cache)."""

from __future__ import annotations

import os
from pathlib import Path

from pycore.image import ImageService, tree_size
from pycore.structs import struct


@struct(frozen=True, slots=True)
class DiskUsage:
    """One line of `system df`: how many, how many in use, bytes, bytes that could be freed."""

    type: str
    total: int
    active: int
    size: int
    reclaimable: int


def disk_usage(images: ImageService) -> tuple[DiskUsage, ...]:
    """Usage of every kind of content in the store of `images`.

    Containers, volumes and build cache are counted from their directories: each entry is
    active-unknown (0) until their own services report it.
    """
    lay = images.store.layout
    img = images.disk_usage()
    return (
        DiskUsage("Images", img.total, img.active, img.size, img.reclaimable),
        _directory("Containers", Path(lay.containers)),
        _directory("Local Volumes", Path(lay.volumes)),
        _directory("Build Cache", Path(lay.build_cache)),
    )


def _directory(kind: str, path: Path) -> DiskUsage:
    try:
        names = [n for n in os.listdir(path) if not n.startswith(".")]
    except FileNotFoundError:
        names = []
    size = sum(tree_size(path / n) for n in names)
    return DiskUsage(kind, len(names), 0, size, size)
