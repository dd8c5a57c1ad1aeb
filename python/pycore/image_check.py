"""`system check`: re-verify every blob, every image's blobs and layers, find orphans, repair.

The scan (hashing every blob) runs without the lock; repairs that change the index or delete
content run under it, re-reading the index first so that concurrent changes are respected.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from pycore.digest import Digest
from pycore.errors import PycoreError, StoreError
from pycore.image import CheckReport, ImageService, Problem, verify_blob
from pycore.oci.models import Descriptor, ImageConfig, InvalidDocument, Manifest
from pycore.reference import Reference
from pycore.store import index as index_file
from pycore.store import workdir
from pycore.store.commit import now_rfc3339
from pycore.store.index import ImageIndex, ImageRecord
from pycore.store.store import Store
from pycore.structs import field, replace, struct

_HEX64 = re.compile(r"[0-9a-f]{64}")
_MAX_DOCUMENT = 4 << 20  # manifests and configs are small; never slurp a layer blob


@struct(slots=True)
class _Scan:
    problems: list[Problem] = field(default_factory=list)
    bad_blobs: dict[Digest, str] = field(default_factory=dict)
    blobs: set[Digest] = field(default_factory=set)
    layers: set[Digest] = field(default_factory=set)
    strays: list[Path] = field(default_factory=list)
    broken: set[Digest] = field(default_factory=set)  # manifest digests of broken images
    missing_layers: dict[Digest, tuple[Descriptor, set[Digest]]] = field(default_factory=dict)
    used_blobs: set[Digest] = field(default_factory=set)
    used_layers: set[Digest] = field(default_factory=set)


def run_check(service: ImageService, *, repair: bool) -> CheckReport:
    """See `ImageService.check`."""
    store = service.store
    scan = _Scan()
    idx = _read_index(store, scan, repair)
    _scan_blobs(store, scan)
    _scan_layers(store, scan)
    for record in idx.images:
        _check_image(store, record, scan)
    for diff_id, (desc, _) in sorted(scan.missing_layers.items()):
        detail = f"unpacked layer is missing; blob {desc.digest.short} can re-extract it"
        scan.problems.append(Problem("missing-layer", str(diff_id), detail))
    for digest, why in sorted(scan.bad_blobs.items()):
        scan.problems.append(Problem("corrupt-blob", str(digest), why))
    for digest in sorted(scan.blobs - scan.used_blobs - set(scan.bad_blobs)):
        scan.problems.append(Problem("orphan-blob", str(digest), "no image uses it"))
    for diff_id in sorted(scan.layers - scan.used_layers):
        scan.problems.append(Problem("orphan-layer", str(diff_id), "no image uses it"))
    if repair:
        _repair(service, scan)
    return CheckReport(tuple(scan.problems), len(scan.blobs), len(scan.layers), len(idx.images))


# -- scanning ------------------------------------------------------------------------------


def _read_index(store: Store, scan: _Scan, repair: bool) -> ImageIndex:
    try:
        return store.read_index()
    except StoreError as e:
        if not repair:
            scan.problems.append(Problem("corrupt-index", "images/index.json", str(e)))
            return ImageIndex()
    with store.locked():
        path = Path(store.layout.image_index)
        try:
            return store.read_index()  # someone else repaired it meanwhile
        except StoreError:
            pass
        os.replace(path, path.with_name(f"index.json.corrupt-{os.getpid()}"))
        rebuilt = _rebuild_index(store)
        index_file.write(path, rebuilt)
    scan.problems.append(
        Problem(
            "corrupt-index",
            "images/index.json",
            f"rebuilt from the stored manifests: {len(rebuilt.images)} untagged images",
            repaired=True,
        )
    )
    return rebuilt


def _rebuild_index(store: Store) -> ImageIndex:
    records = []
    for digest in _valid_blob_names(store):
        path = Path(store.layout.blob(digest))
        try:
            if path.stat().st_size > _MAX_DOCUMENT or path.read_bytes()[:1] != b"{":
                continue
            manifest = Manifest.parse(store.read_blob(digest))
            ImageConfig.parse(store.read_blob(manifest.config.digest))
        except (PycoreError, OSError):
            continue
        records.append(ImageRecord(digest, manifest.config.digest, (), now_rfc3339()))
    return ImageIndex(tuple(records))


def _valid_blob_names(store: Store) -> list[Digest]:
    return sorted(
        Digest("sha256", n) for n in os.listdir(store.layout.blobs) if _HEX64.fullmatch(n)
    )


def _scan_blobs(store: Store, scan: _Scan) -> None:
    for name in sorted(os.listdir(store.layout.blobs)):
        if name.startswith("."):
            continue  # an atomic write in progress (or a dead one, swept with tmp/)
        if not _HEX64.fullmatch(name):
            scan.strays.append(Path(store.layout.blobs, name))
            scan.problems.append(Problem("stray-file", f"blobs/sha256/{name}", "not a blob"))
            continue
        digest = Digest("sha256", name)
        scan.blobs.add(digest)
        why = verify_blob(store, digest)
        if why is not None:
            scan.bad_blobs[digest] = why


def _scan_layers(store: Store, scan: _Scan) -> None:
    for name in sorted(os.listdir(store.layout.layers)):
        path = Path(store.layout.layers, name)
        if _HEX64.fullmatch(name) and path.is_dir() and not path.is_symlink():
            scan.layers.add(Digest("sha256", name))
        elif not name.startswith("."):
            scan.strays.append(path)
            scan.problems.append(Problem("stray-file", f"layers/{name}", "not a layer"))


def _label(record: ImageRecord) -> str:
    if record.names:
        return Reference.parse(record.names[0]).familiar
    return record.config.short


def _check_image(store: Store, record: ImageRecord, scan: _Scan) -> None:
    issues: list[str] = []
    scan.used_blobs |= {record.manifest, record.config}
    manifest = _manifest(store, record.manifest, scan, issues)
    if manifest is not None and manifest.config.digest != record.config:
        issues.append(f"manifest names config {manifest.config.digest}, index {record.config}")
    config = _config(store, record.config, scan, issues)
    if manifest is not None:
        for desc in manifest.layers:
            scan.used_blobs.add(desc.digest)
            why = _blob_state(store, desc.digest, scan)
            if why is not None:
                issues.append(f"layer blob {desc.digest.short} is {why}")
    if manifest is not None and config is not None:
        if len(config.diff_ids) != len(manifest.layers):
            issues.append("config and manifest disagree on the number of layers")
        for desc, diff_id in zip(manifest.layers, config.diff_ids, strict=False):
            scan.used_layers.add(diff_id)
            if diff_id in scan.layers:
                continue
            if _blob_state(store, desc.digest, scan) is None:
                entry = scan.missing_layers.setdefault(diff_id, (desc, set()))
                entry[1].add(record.manifest)
            else:
                issues.append(f"layer {diff_id.short} is missing and cannot be re-extracted")
    if issues:
        scan.broken.add(record.manifest)
        scan.problems.append(Problem("broken-image", _label(record), "; ".join(issues)))


def _blob_state(store: Store, digest: Digest, scan: _Scan) -> str | None:
    if digest in scan.bad_blobs:
        return "corrupt"
    if digest not in scan.blobs:
        return "missing"
    return None


def _document_bytes(
    store: Store, digest: Digest, what: str, scan: _Scan, issues: list[str]
) -> bytes | None:
    state = _blob_state(store, digest, scan)
    if state is not None:
        issues.append(f"{what} blob {digest.short} is {state}")
        return None
    try:
        return Path(store.layout.blob(digest)).read_bytes()
    except OSError as e:
        issues.append(f"{what} blob {digest.short} is unreadable ({e.strerror})")
        return None


def _manifest(store: Store, digest: Digest, scan: _Scan, issues: list[str]) -> Manifest | None:
    data = _document_bytes(store, digest, "manifest", scan, issues)
    try:
        return Manifest.parse(data) if data is not None else None
    except InvalidDocument as e:
        issues.append(str(e))
        return None


def _config(store: Store, digest: Digest, scan: _Scan, issues: list[str]) -> ImageConfig | None:
    data = _document_bytes(store, digest, "config", scan, issues)
    try:
        return ImageConfig.parse(data) if data is not None else None
    except InvalidDocument as e:
        issues.append(str(e))
        return None


# -- repairing -----------------------------------------------------------------------------


def _repair(service: ImageService, scan: _Scan) -> None:
    store = service.store
    repaired: set[tuple[str, str]] = set()
    for diff_id, (desc, images) in sorted(scan.missing_layers.items()):
        try:
            store.unpack_layer(desc.digest, diff_id, size=desc.size)
        except PycoreError as e:
            scan.problems.append(Problem("missing-layer", str(diff_id), f"re-extracting: {e}"))
            scan.broken |= images
            continue
        repaired.add(("missing-layer", str(diff_id)))
    trash: list[Path] = []
    freed: list[Problem] = []
    with store.locked():
        idx = store.read_index()
        gone = [r for r in idx.images if r.manifest in scan.broken]
        for r in gone:
            idx = idx.without(r.manifest)
            repaired.add(("broken-image", _label(r)))
        if gone:
            index_file.write(store.layout.image_index, idx)
        for digest in scan.bad_blobs:
            store.remove_blob(digest)
            repaired.add(("corrupt-blob", str(digest)))
        for path in scan.strays:
            trash.append(path)
            repaired.add(("stray-file", _relative(store, path)))
        keep_blobs, keep_layers = service._referenced(idx.images)
        for digest in sorted(set(_valid_blob_names(store)) - keep_blobs):
            store.remove_blob(digest)
            repaired.add(("orphan-blob", str(digest)))
            if not any(p.subject == str(digest) for p in scan.problems):
                freed.append(Problem("orphan-blob", str(digest), "left by a broken image", True))
        for diff_id in sorted(set(store.layers()) - keep_layers):
            if not _HEX64.fullmatch(diff_id.hex):
                continue
            moved = store.move_to_trash(store.layout.layer(diff_id))
            if moved is None:
                continue
            trash.append(Path(moved))
            repaired.add(("orphan-layer", str(diff_id)))
            if not any(p.subject == str(diff_id) for p in scan.problems):
                freed.append(Problem("orphan-layer", str(diff_id), "left by a broken image", True))
    for path in trash:
        workdir.remove_tree(path)
    scan.problems[:] = [
        replace(p, repaired=True) if (p.kind, p.subject) in repaired else p for p in scan.problems
    ] + freed


def _relative(store: Store, path: Path) -> str:
    return str(path.relative_to(store.layout.root))
