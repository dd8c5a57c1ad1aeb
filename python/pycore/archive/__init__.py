"""Images in and out of files: docker-archive (`docker save`), oci-archive and OCI layout dirs.

    records = pycore.archive.load(store, Path("busybox.tar"))
    pycore.archive.save(store, ["busybox"], Path("out.tar"), format="oci-archive")

Loading streams the archive into a store workdir, verifies every blob against its digest and
only then moves blobs into the store and registers the images: a malformed archive raises
ArchiveError and leaves the store as it was.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, Literal

from pycore.archive import docker_archive, oci_layout
from pycore.archive.bundle import Bundle, open_bundle
from pycore.archive.export import ExportImage, collect
from pycore.archive.plan import ImagePlan, check_member
from pycore.archive.resolve import resolve
from pycore.archive.sink import DirSink, Sink, TarSink
from pycore.digest import Digest
from pycore.errors import ArchiveError, PycoreError, UsageError
from pycore.oci.models import ImageConfig, Manifest
from pycore.store.commit import commit_image
from pycore.store.index import ImageRecord
from pycore.store.store import Store
from pycore.store.workdir import remove_tree

Format = Literal["docker-archive", "oci-archive", "oci-dir"]
FORMATS: tuple[Format, ...] = ("docker-archive", "oci-archive", "oci-dir")
Status = Callable[[str], None]


# -- load ----------------------------------------------------------------------------------


def load(
    store: Store, source: Path | BinaryIO, progress: Status | None = None
) -> list[ImageRecord]:
    """Load every image of the archive or layout at `source` (a path or a readable stream).

    Detects the format: a directory with `oci-layout` is an OCI layout; a tar (plain or gzip)
    with `oci-layout` and `index.json` is an oci-archive (Docker 25+ saves are both; their
    `manifest.json` tags are merged in); a tar with `manifest.json` is a docker-archive.
    Returns the images' records, names included. Raises ArchiveError for a malformed archive,
    DigestMismatch/LayerError when a compressed layer does not match its diff_id.
    """
    say = progress or (lambda _line: None)
    with store.workdir("load") as work:
        say("Reading archive")
        bundle = open_bundle(source, work)
        plans = read_plans(bundle)
        for plan in plans:
            for blob in plan.blobs:
                check_member(bundle, blob.member, blob.digest, blob.size)
        blobs_before, layers_before = set(store.blobs()), set(store.layers())
        try:
            _ingest(store, bundle, plans, work, say)
            records = []
            for plan in plans:
                say(f"Unpacking image {plan.config.short}")
                records.append(commit_image(store, plan.manifest, plan.names))
        except BaseException:
            _rollback(store, blobs_before, layers_before)
            raise
        return records


def read_plans(bundle: Bundle) -> list[ImagePlan]:
    """What the archive holds, by the format its files show."""
    if oci_layout.is_layout(bundle):
        plans = oci_layout.read(bundle)
        if docker_archive.is_docker_archive(bundle):
            tags = docker_archive.repo_tags(bundle)
            plans = [p.with_names(tags.get(p.config, ())) for p in plans]
    elif docker_archive.is_docker_archive(bundle):
        plans = docker_archive.read(bundle)
    else:
        raise ArchiveError(
            f"{bundle.description}: not an image archive (no manifest.json, no oci-layout)"
        )
    return _merged(plans)


def _merged(plans: list[ImagePlan]) -> list[ImagePlan]:
    """One plan per manifest: `docker save a:1 b:1` of one image lists it twice."""
    by_digest: dict[Digest, ImagePlan] = {}
    for plan in plans:
        digest = Digest.sha256_of(plan.manifest)
        old = by_digest.get(digest)
        by_digest[digest] = old.with_names(plan.names) if old else plan
    return list(by_digest.values())


def _ingest(store: Store, bundle: Bundle, plans: list[ImagePlan], work: Path, say: Status) -> None:
    done: set[Digest] = set()
    for plan in plans:
        for blob in plan.blobs:
            if blob.digest in done or store.has_blob(blob.digest):
                continue
            done.add(blob.digest)
            say(f"Loading blob {blob.digest.short}")
            src = bundle.entry(blob.member).path
            if not bundle.owns_files:  # a user's directory: copy, never move their files
                copy = work / f"blob-{blob.digest.hex}"
                _copy(src, copy)
                src = copy
            store.ingest_blob(src, blob.digest, blob.size)


def _rollback(store: Store, blobs_before: set[Digest], layers_before: set[Digest]) -> None:
    """Remove the blobs and layers this load added that no indexed image uses (a compressed
    layer whose diff_id did not match is only found while unpacking, after ingesting)."""
    with store.locked():
        blobs: set[Digest] = set()
        layers: set[Digest] = set()
        for record in store.read_index().images:
            blobs |= {record.manifest, record.config}
            with contextlib.suppress(PycoreError):
                manifest = Manifest.parse(store.read_blob(record.manifest))
                blobs |= {x.digest for x in manifest.layers}
                layers |= set(ImageConfig.parse(store.read_blob(record.config)).diff_ids)
        for digest in set(store.blobs()) - blobs_before - blobs:
            store.remove_blob(digest)
        trash = [
            store.move_to_trash(store.layout.layer(diff_id))
            for diff_id in set(store.layers()) - layers_before - layers
        ]
    for path in trash:  # deleting trees is slow: outside the lock
        if path is not None:
            remove_tree(path)


def _copy(src: Path, dest: Path) -> None:
    try:
        shutil.copyfile(src, dest)
    except OSError as e:
        raise ArchiveError(f"cannot read {src}: {e.strerror}") from e


# -- save ----------------------------------------------------------------------------------


def save(
    store: Store,
    images: list[str],
    dest: Path | BinaryIO,
    format: Format = "docker-archive",
) -> list[ExportImage]:
    """Write `images` (names or ids) to `dest`: a path (written to a temp name, renamed into
    place when complete) or a writable binary stream (tar formats only).

    An image named by reference is saved under that name; one named by id, untagged.
    Raises ImageNotFound, UsageError (bad format or destination).
    """
    if format not in FORMATS:
        raise UsageError(f"unknown format {format!r}: use one of {', '.join(FORMATS)}")
    if not images:
        raise UsageError("no image to save")
    exported = collect(store, [resolve(store, text) for text in images])
    if not isinstance(dest, Path):
        if format == "oci-dir":
            raise UsageError("the oci-dir format needs an output directory (-o DIR)")
        _write_tar(dest, store, exported, format)
        return exported
    if format == "oci-dir":
        _save_dir(dest, store, exported)
    else:
        _save_file(dest, store, exported, format)
    return exported


def _write(sink: Sink, store: Store, images: list[ExportImage], format: Format) -> None:
    oci_layout.write_metadata(sink, images)
    if format == "docker-archive":
        docker_archive.write_metadata(sink, images)
    oci_layout.write_blobs(sink, store, images)


def _write_tar(out: BinaryIO, store: Store, images: list[ExportImage], format: Format) -> None:
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        _write(TarSink(tar), store, images, format)


def _temp_name(dest: Path) -> Path:
    return dest.with_name(f".{dest.name}.tmp-{os.getpid()}")


def _save_file(dest: Path, store: Store, images: list[ExportImage], format: Format) -> None:
    if dest.is_dir():
        raise UsageError(f"{dest} is a directory; the {format} format writes a file")
    tmp = _temp_name(dest)
    try:
        with tmp.open("wb") as f:
            _write_tar(f, store, images, format)
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, dest)
    except OSError as e:
        raise UsageError(f"cannot write {dest}: {e.strerror}") from e
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _save_dir(dest: Path, store: Store, images: list[ExportImage]) -> None:
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise UsageError(f"{dest} exists and is not an empty directory")
    tmp = _temp_name(dest)
    try:
        tmp.mkdir()
        _write(DirSink(tmp), store, images, "oci-dir")
        os.rename(tmp, dest)  # rename(2) replaces an empty directory
    except OSError as e:
        raise UsageError(f"cannot write {dest}: {e.strerror}") from e
    finally:
        remove_tree(tmp)


__all__ = ["FORMATS", "Format", "load", "read_plans", "save"]
