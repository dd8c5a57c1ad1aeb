"""Build real images into a store from directory trees, for tests of the whole suite.

Layers are packed by `pycore.native.pack_layer`, ingested with `Store.ingest_blob`, the config
and manifest stored with `Store.put_blob` and the image registered with `commit_image`, the
same path registries, archives and the builder take. Manifests and configs are checked against
the OCI schemas before they are stored.

    from tests.helpers.images import build_image
    built = build_image(store, [{"etc/hostname": "a\\n"}, tree_dir], names=("app:1",))
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pycore import native
from pycore.digest import Digest
from pycore.oci import mediatypes as mt
from pycore.oci.models import Descriptor, ImageConfig, Manifest
from pycore.reference import Reference
from pycore.store.commit import LayerProgress, commit_image
from pycore.store.index import ImageRecord
from pycore.store.store import Store
from tests.helpers import schemas

Tree = Mapping[str, "str | bytes | None"]
"""Files of a layer: path -> content; None makes a directory."""

FIXED_CREATED = "2024-01-02T03:04:05Z"
FIXED_MTIME = 1_700_000_000


@dataclass(frozen=True, slots=True)
class BuiltImage:
    record: ImageRecord
    manifest_bytes: bytes
    manifest: Manifest
    config: ImageConfig

    @property
    def id(self) -> Digest:
        return self.record.config

    @property
    def manifest_digest(self) -> Digest:
        return self.record.manifest

    @property
    def layers(self) -> tuple[Descriptor, ...]:
        return self.manifest.layers

    @property
    def diff_ids(self) -> tuple[Digest, ...]:
        return self.config.diff_ids


def write_tree(root: Path, files: Tree) -> Path:
    """Create `files` under `root` (which may exist); returns `root`."""
    root.mkdir(parents=True, exist_ok=True)
    for rel, content in sorted(files.items()):
        path = root / rel
        if content is None:
            path.mkdir(parents=True, exist_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    # Fixed times on everything (directories too) so identical trees pack identically.
    for dirpath, dirnames, filenames in os.walk(root, topdown=False):
        for name in (*filenames, *dirnames):
            os.utime(os.path.join(dirpath, name), (FIXED_MTIME, FIXED_MTIME))
    os.utime(root, (FIXED_MTIME, FIXED_MTIME))
    return root


def add_layer(store: Store, source: Path | Tree) -> tuple[Descriptor, Digest]:
    """Pack a directory (or a dict of files) into a gzip layer blob in `store`.

    Returns the layer's descriptor and its diff_id. Packing is deterministic, so the same
    files give the same digests (that is how tests share layers between images)."""
    with store.workdir("test-layer") as work:
        if not isinstance(source, Path):
            source = write_tree(work / "tree", source)
        out = work / "layer.tar.gz"
        digests = native.pack_layer(source, out, compression="gzip")
        digest = store.ingest_blob(out, Digest.parse(digests.digest), digests.size)
    desc = Descriptor(mt.OCI_LAYER_GZIP, digest, digests.size)
    return desc, Digest.parse(digests.diff_id)


def image_documents(
    layers: Sequence[tuple[Descriptor, Digest]],
    config_digest_of: Callable[[bytes], Descriptor],
    *,
    config: Mapping[str, Any] | None = None,
    created: str | None = FIXED_CREATED,
    architecture: str = "amd64",
    labels: Mapping[str, str] | None = None,
) -> tuple[bytes, bytes]:
    """The (config bytes, manifest bytes) of an image made of `layers`, schema-checked."""
    container_config: dict[str, Any] = {"Env": ["PATH=/usr/bin:/bin"], "Cmd": ["/bin/sh"]}
    container_config.update(config or {})
    if labels:
        container_config["Labels"] = dict(labels)
    cfg = ImageConfig.new(
        [diff_id for _, diff_id in layers],
        architecture=architecture,
        config=container_config,
        created=created,
        history=[{"created": created or FIXED_CREATED, "created_by": "tests"} for _ in layers],
    )
    config_bytes = cfg.to_bytes()
    schemas.validate(schemas.CONFIG, config_bytes)
    manifest = Manifest(config_digest_of(config_bytes), tuple(d for d, _ in layers))
    manifest_bytes = manifest.to_bytes()
    schemas.validate(schemas.MANIFEST, manifest_bytes)
    return config_bytes, manifest_bytes


def build_image(
    store: Store,
    layers: Sequence[Path | Tree],
    *,
    names: Sequence[str] = (),
    config: Mapping[str, Any] | None = None,
    created: str | None = FIXED_CREATED,
    architecture: str = "amd64",
    labels: Mapping[str, str] | None = None,
    progress: LayerProgress | None = None,
) -> BuiltImage:
    """Build and register an image whose layers are `layers` (base first), named `names`
    (normalized like `pycore tag` does). Identical inputs give the identical image."""
    packed = [add_layer(store, layer) for layer in layers]

    def store_config(data: bytes) -> Descriptor:
        return Descriptor(mt.OCI_CONFIG, store.put_blob(data), len(data))

    _, manifest_bytes = image_documents(
        packed,
        store_config,
        config=config,
        created=created,
        architecture=architecture,
        labels=labels,
    )
    full = tuple(str(Reference.parse(n)) for n in names)
    record = commit_image(store, manifest_bytes, full, progress=progress)
    manifest = Manifest.parse(manifest_bytes)
    cfg = ImageConfig.parse(store.read_blob(manifest.config.digest))
    return BuiltImage(record, manifest_bytes, manifest, cfg)
