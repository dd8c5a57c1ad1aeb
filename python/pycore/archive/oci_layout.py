"""OCI image layouts (image-spec `image-layout.md`): `oci-layout`, `index.json` and
`blobs/sha256/`, as a directory or a tar (oci-archive). Nested indexes resolve to the host's
platform; names come from `io.containerd.image.name` or `org.opencontainers.image.ref.name`.
"""

from __future__ import annotations

import json

from pycore.archive.bundle import Bundle
from pycore.archive.export import ExportImage, blob_files
from pycore.archive.plan import (
    BlobSource,
    ImagePlan,
    check_member,
    document_error,
    parse_name,
)
from pycore.archive.sink import Sink
from pycore.digest import Digest
from pycore.errors import ArchiveError, InvalidReference
from pycore.oci import mediatypes as mt
from pycore.oci.models import (
    Descriptor,
    ImageConfig,
    Index,
    InvalidDocument,
    Manifest,
    Platform,
    load_json,
)
from pycore.oci.platform import host_platform, matches
from pycore.reference import Reference
from pycore.store.store import Store

LAYOUT_FILE = "oci-layout"
INDEX_FILE = "index.json"
LAYOUT_VERSION = "1.0.0"
REF_NAME = "org.opencontainers.image.ref.name"
CONTAINERD_NAME = "io.containerd.image.name"
_MAX_NESTING = 4


def is_layout(bundle: Bundle) -> bool:
    return bundle.has(LAYOUT_FILE) and bundle.has(INDEX_FILE)


def blob_member(digest: Digest) -> str:
    return f"blobs/{digest.algorithm}/{digest.hex}"


# -- reading -------------------------------------------------------------------------------


def read(bundle: Bundle, platform: Platform | None = None) -> list[ImagePlan]:
    """Plans for every image the layout's index names (one manifest per nested index)."""
    want = platform or host_platform()
    what = bundle.description
    try:
        layout = load_json(bundle.read_document(LAYOUT_FILE), f"{what}: {LAYOUT_FILE}")
        version = layout.get("imageLayoutVersion")
        if not isinstance(version, str) or not version.startswith("1."):
            raise ArchiveError(f"{what}: unsupported imageLayoutVersion {version!r}")
        index = Index.parse(bundle.read_document(INDEX_FILE), f"{what}: {INDEX_FILE}")
    except InvalidDocument as e:
        raise ArchiveError(str(e)) from e
    plans: dict[Digest, ImagePlan] = {}
    for desc in index.manifests:
        if desc.platform is not None and not matches(want, desc.platform):
            continue
        manifest_desc = _select(bundle, desc, want, 0)
        if manifest_desc is None:
            continue
        names = _names(desc, what)
        old = plans.get(manifest_desc.digest)
        plans[manifest_desc.digest] = (
            old.with_names(names) if old else _plan(bundle, manifest_desc, names)
        )
    if not plans:
        raise ArchiveError(f"{what}: {INDEX_FILE} lists no image for {want}")
    return list(plans.values())


def _select(bundle: Bundle, desc: Descriptor, want: Platform, depth: int) -> Descriptor | None:
    """The image manifest `desc` leads to for platform `want` (None: skip this entry)."""
    if desc.media_type in mt.MANIFESTS:
        return desc
    if desc.media_type not in mt.INDEXES:
        return None  # an artifact or an unknown type: not an image
    if depth >= _MAX_NESTING:
        raise ArchiveError(f"{bundle.description}: indexes nested too deeply")
    member = blob_member(desc.digest)
    check_member(bundle, member, desc.digest, desc.size)
    try:
        nested = Index.parse(bundle.read_document(member), f"{bundle.description}: {member}")
    except InvalidDocument as e:
        raise ArchiveError(str(e)) from e
    for entry in nested.manifests:
        if entry.media_type in mt.MANIFESTS and matches(want, entry.platform):
            return entry
    for entry in nested.manifests:
        if entry.media_type in mt.INDEXES:
            found = _select(bundle, entry, want, depth + 1)
            if found is not None:
                return found
    return None


def _names(desc: Descriptor, what: str) -> tuple[str, ...]:
    full = desc.annotations.get(CONTAINERD_NAME)
    if full:
        return (parse_name(full, f"{what}: {CONTAINERD_NAME}"),)
    ref = desc.annotations.get(REF_NAME)
    # A bare tag (`latest`, as `skopeo copy ... oci:dir:latest` writes) names no repository;
    # such an image loads untagged rather than under an invented name.
    if not ref or not any(c in ref for c in "/:@"):
        return ()
    try:
        return (str(Reference.parse(ref)),)
    except InvalidReference:
        return ()


def _plan(bundle: Bundle, desc: Descriptor, names: tuple[str, ...]) -> ImagePlan:
    what = bundle.description
    member = blob_member(desc.digest)
    check_member(bundle, member, desc.digest, desc.size)
    data = bundle.read_document(member)
    try:
        manifest = Manifest.parse(data, f"{what}: manifest {desc.digest.short}")
        cfg_member = blob_member(manifest.config.digest)
        check_member(bundle, cfg_member, manifest.config.digest, manifest.config.size)
        ImageConfig.parse(
            bundle.read_document(cfg_member), f"{what}: config {manifest.config.digest.short}"
        )
    except InvalidDocument as e:
        raise document_error(what, e) from e
    blobs = [BlobSource(manifest.config.digest, manifest.config.size, cfg_member)]
    for layer in manifest.layers:
        blobs.append(BlobSource(layer.digest, layer.size, blob_member(layer.digest)))
    return ImagePlan(data, manifest.config.digest, tuple(blobs), names)


# -- writing -------------------------------------------------------------------------------


def index_bytes(images: list[ExportImage]) -> bytes:
    """`index.json`: one entry per (image, name); an image saved by id gets one bare entry."""
    entries: list[Descriptor] = []
    for image in images:
        base = Descriptor(image.manifest.media_type, image.digest, len(image.manifest_bytes))
        if not image.names:
            entries.append(base)
        for name in image.names:
            # Both keys, as Docker 25+ and containerd write them; ref.name holds the full
            # reference (podman and skopeo read it that way).
            notes = {CONTAINERD_NAME: name, REF_NAME: name}
            entries.append(Descriptor(base.media_type, base.digest, base.size, annotations=notes))
    return Index(tuple(entries)).to_bytes()


def layout_bytes() -> bytes:
    return json.dumps({"imageLayoutVersion": LAYOUT_VERSION}).encode()


def write_metadata(sink: Sink, images: list[ExportImage]) -> None:
    sink.add_bytes(LAYOUT_FILE, layout_bytes())
    sink.add_bytes(INDEX_FILE, index_bytes(images))


def write_blobs(sink: Sink, store: Store, images: list[ExportImage]) -> None:
    sink.add_dir("blobs")
    sink.add_dir("blobs/sha256")
    for digest, path in blob_files(store, images).items():
        sink.add_file(blob_member(digest), path)


def write(sink: Sink, store: Store, images: list[ExportImage]) -> None:
    """An OCI image layout holding `images`."""
    write_metadata(sink, images)
    write_blobs(sink, store, images)
