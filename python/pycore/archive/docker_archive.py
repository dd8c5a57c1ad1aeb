"""docker-archive: the `docker save` format. `manifest.json` lists, per image, its config file,
its tags and its layer files; layers are `<id>/layer.tar` (Docker before 25), `<hex>.tar`
(skopeo, podman) or `blobs/sha256/<hex>` (Docker 25+, which embeds an OCI layout too).

pycore writes the Docker 25+ shape: an OCI layout plus `manifest.json` and `repositories`
pointing into `blobs/`. Layers keep their stored (compressed) bytes, which `docker load`,
`podman load` and skopeo all decompress, so a save loaded back has the same manifest digest.
"""

from __future__ import annotations

import json
from typing import Any

from pycore.archive.bundle import Bundle, compression_of, safe_member_name
from pycore.archive.export import ExportImage
from pycore.archive.oci_layout import blob_member
from pycore.archive.plan import BlobSource, ImagePlan, check_named, document_error, parse_name
from pycore.archive.sink import Sink
from pycore.digest import Digest
from pycore.errors import ArchiveError
from pycore.oci import mediatypes as mt
from pycore.oci.models import Descriptor, ImageConfig, InvalidDocument, Manifest
from pycore.reference import Reference

MANIFEST_FILE = "manifest.json"
REPOSITORIES_FILE = "repositories"


def is_docker_archive(bundle: Bundle) -> bool:
    return bundle.has(MANIFEST_FILE)


# -- reading -------------------------------------------------------------------------------


def _entries(bundle: Bundle) -> list[dict[str, Any]]:
    what = f"{bundle.description}: {MANIFEST_FILE}"
    try:
        value = json.loads(bundle.read_document(MANIFEST_FILE))
    except (ValueError, UnicodeDecodeError) as e:
        raise ArchiveError(f"{what}: not valid JSON ({e})") from e
    if not isinstance(value, list) or not all(isinstance(x, dict) for x in value):
        raise ArchiveError(f"{what}: expected a list of objects")
    for i, entry in enumerate(value):
        if not isinstance(entry.get("Config"), str):
            raise ArchiveError(f"{what}: entry {i}: 'Config' must be a string")
        layers = entry.get("Layers")
        if not isinstance(layers, list) or not all(isinstance(x, str) for x in layers):
            raise ArchiveError(f"{what}: entry {i}: 'Layers' must be a list of strings")
        tags = entry.get("RepoTags")
        if tags is not None and (
            not isinstance(tags, list) or not all(isinstance(x, str) for x in tags)
        ):
            raise ArchiveError(f"{what}: entry {i}: 'RepoTags' must be a list of strings")
    return value


def _member(bundle: Bundle, name: str) -> str:
    """An archive path from manifest.json, normalized the way tar members are."""
    return safe_member_name(name)


def repo_tags(bundle: Bundle) -> dict[Digest, tuple[str, ...]]:
    """Config digest -> fully qualified names, from `manifest.json` (for Docker 25+ archives
    read as OCI layouts, whose index may name fewer tags)."""
    out: dict[Digest, tuple[str, ...]] = {}
    for i, entry in enumerate(_entries(bundle)):
        config = check_named(bundle, _member(bundle, entry["Config"]))
        names = _names(entry, f"{bundle.description}: {MANIFEST_FILE} entry {i}")
        out[config] = tuple(dict.fromkeys((*out.get(config, ()), *names)))
    return out


def _names(entry: dict[str, Any], what: str) -> tuple[str, ...]:
    return tuple(parse_name(tag, what) for tag in entry.get("RepoTags") or [])


def read(bundle: Bundle) -> list[ImagePlan]:
    """Plans for every image in `manifest.json`; each gets a synthesized OCI manifest."""
    entries = _entries(bundle)
    if not entries:
        raise ArchiveError(f"{bundle.description}: {MANIFEST_FILE} lists no image")
    return [_plan(bundle, entry, i) for i, entry in enumerate(entries)]


def _plan(bundle: Bundle, entry: dict[str, Any], i: int) -> ImagePlan:
    what = f"{bundle.description}: {MANIFEST_FILE} entry {i}"
    cfg_member = _member(bundle, entry["Config"])
    cfg_bytes = bundle.read_document(cfg_member)
    cfg_digest = check_named(bundle, cfg_member)
    try:
        config = ImageConfig.parse(cfg_bytes, f"{what}: config")
    except InvalidDocument as e:
        raise document_error(bundle.description, e) from e
    layer_members = [_member(bundle, x) for x in entry["Layers"]]
    diff_ids = config.diff_ids
    if len(diff_ids) != len(layer_members):
        raise ArchiveError(
            f"{what}: {len(layer_members)} layers but the config lists {len(diff_ids)} diff_ids"
        )
    blobs = [BlobSource(cfg_digest, len(cfg_bytes), cfg_member)]
    layers = []
    for member, diff_id in zip(layer_members, diff_ids, strict=True):
        layer = _layer(bundle, member, diff_id)
        layers.append(layer)
        blobs.append(BlobSource(layer.digest, layer.size, member))
    manifest = Manifest(
        config=Descriptor(mt.OCI_CONFIG, cfg_digest, len(cfg_bytes)), layers=tuple(layers)
    )
    return ImagePlan(manifest.to_bytes(), cfg_digest, tuple(blobs), _names(entry, what))


def _layer(bundle: Bundle, member: str, diff_id: Digest) -> Descriptor:
    digest = check_named(bundle, member)
    entry = bundle.entry(member)
    compression = compression_of(entry.head)
    # An uncompressed layer is its own diff_id; a compressed one is checked while unpacking.
    if compression == "none" and digest != diff_id:
        raise ArchiveError(
            f"{bundle.description}: {member}: digest mismatch: the config's diff_id is "
            f"{diff_id}, the layer hashes to {digest}"
        )
    return Descriptor(mt.oci_layer_type(compression), digest, entry.size)


# -- writing -------------------------------------------------------------------------------


def _repo_tags(image: ExportImage) -> list[str]:
    # Fully qualified, as skopeo writes them: `docker load` normalizes them to the familiar
    # form it shows, while podman would read a familiar `busybox:latest` as `localhost/...`.
    tags = []
    for name in image.names:
        ref = Reference.parse(name)
        if ref.tag is not None and ref.digest is None:
            tags.append(str(ref))
    return tags


def manifest_json(images: list[ExportImage]) -> bytes:
    entries = []
    for image in images:
        tags = _repo_tags(image)
        entries.append(
            {
                "Config": blob_member(image.manifest.config.digest),
                "RepoTags": tags or None,
                "Layers": [blob_member(x.digest) for x in image.manifest.layers],
            }
        )
    return json.dumps(entries, separators=(",", ":")).encode()


def repositories_json(images: list[ExportImage]) -> bytes:
    """The legacy `repositories` file: repository -> tag -> top layer id."""
    repos: dict[str, dict[str, str]] = {}
    for image in images:
        if not image.manifest.layers:
            continue
        top = image.manifest.layers[-1].digest.hex
        for name in image.names:
            ref = Reference.parse(name)
            if ref.tag is not None and ref.digest is None:
                repos.setdefault(ref.repository, {})[ref.tag] = top
    return json.dumps(repos, separators=(",", ":")).encode()


def write_metadata(sink: Sink, images: list[ExportImage]) -> None:
    """`manifest.json` and `repositories`; the OCI layout they point into is written apart."""
    sink.add_bytes(MANIFEST_FILE, manifest_json(images))
    sink.add_bytes(REPOSITORIES_FILE, repositories_json(images))
