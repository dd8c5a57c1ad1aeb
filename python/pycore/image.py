"""The image service: list, resolve, inspect, tag, remove, prune, disk usage and check.

Every CLI image command and every other service (run, build, load, compose) goes through
`ImageService`. Index changes and deletions happen under the store lock; layer trees are
renamed into tmp/ under the lock and deleted after it is released.
"""

from __future__ import annotations

import builtins
import os

from pycore import native
from pycore.digest import Digest
from pycore.errors import (
    Conflict,
    DigestMismatch,
    ImageNotFound,
    InvalidReference,
    NotFound,
    PycoreError,
    StoreError,
    UsageError,
)
from pycore.oci.models import ImageConfig, InvalidDocument, Manifest
from pycore.reference import Reference
from pycore.store.index import ImageRecord
from pycore.structs import field, struct

TYPE_CHECKING = False  # not typing's: importing typing costs every CLI start
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from datetime import datetime
    from typing import Any, Literal

    from pycore.store.commit import LayerProgress
    from pycore.store.index import ImageIndex
    from pycore.store.store import Store

    StrPath = str | os.PathLike[str]

    InUse = Callable[[ImageRecord], str | None]
    """Returns why an image may not be removed (e.g. "container abc123 uses it"), or None."""


if not TYPE_CHECKING:

    def __getattr__(name: str) -> object:
        # `InUse` at run time, built on first use: collections.abc is off the start path.
        if name == "InUse":
            from collections.abc import Callable

            return Callable[[ImageRecord], str | None]
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_HEX = frozenset("0123456789abcdef")


def _id_hex(text: str, *, prefix: bool) -> str | None:
    """The hex of an image id, `[sha256:]<64 hex>`, or with `prefix` of 1 to 64 hex digits
    of one; None when `text` is neither."""
    value = text.removeprefix("sha256:")
    if not value or not _HEX.issuperset(value):
        return None
    return value if len(value) == 64 or (prefix and len(value) < 64) else None


def _never_in_use(record: ImageRecord) -> str | None:
    return None


# -- values ------------------------------------------------------------------------------


@struct(frozen=True, slots=True)
class Image:
    """One local image: its index record with its parsed manifest and config."""

    record: ImageRecord
    manifest: Manifest
    config: ImageConfig
    manifest_size: int = 0

    @property
    def id(self) -> Digest:
        """The image id, as Docker shows it: the config digest."""
        return self.record.config

    @property
    def short_id(self) -> str:
        return self.id.short

    @property
    def manifest_digest(self) -> Digest:
        return self.record.manifest

    @property
    def names(self) -> tuple[Reference, ...]:
        """The references (tags) that point at this image, fully qualified."""
        return tuple(Reference.parse(n) for n in self.record.names)

    @property
    def repo_tags(self) -> tuple[str, ...]:
        """Familiar names: `ubuntu:22.04`, `localhost:5000/x:y`."""
        return tuple(r.familiar for r in self.names)

    @property
    def repo_digests(self) -> tuple[str, ...]:
        """One `repository@manifest-digest` per repository the image is tagged in."""
        repos = dict.fromkeys(r.familiar_repository for r in self.names)
        return tuple(f"{repo}@{self.manifest_digest}" for repo in repos)

    @property
    def dangling(self) -> bool:
        return not self.record.names

    @property
    def size(self) -> int:
        """Bytes of the layer blobs, as stored."""
        return sum(layer.size for layer in self.manifest.layers)

    @property
    def diff_ids(self) -> tuple[Digest, ...]:
        return self.config.diff_ids

    @property
    def created(self) -> str | None:
        return self.config.created

    @property
    def created_at(self) -> datetime | None:
        """When the image was built (its config's `created`), else when it entered the store."""
        return parse_time(self.config.created) or parse_time(self.record.added)

    @property
    def architecture(self) -> str:
        return self.config.architecture

    @property
    def os(self) -> str:
        return self.config.os

    def inspect(self) -> dict[str, Any]:
        """The image as `docker image inspect` shows it."""
        cfg = self.config.container_config
        config: dict[str, Any] = {
            key: cfg.get(key, default)
            for key, default in (
                ("User", ""),
                ("ExposedPorts", None),
                ("Env", None),
                ("Cmd", None),
                ("Healthcheck", None),
                ("ArgsEscaped", None),
                ("Volumes", None),
                ("WorkingDir", ""),
                ("Entrypoint", None),
                ("OnBuild", None),
                ("Labels", None),
                ("StopSignal", None),
                ("Shell", None),
            )
            if default is not None or key in cfg or key in _ALWAYS_SHOWN
        }
        raw = self.config.raw
        out: dict[str, Any] = {
            "Id": str(self.id),
            "RepoTags": list(self.repo_tags),
            "RepoDigests": list(self.repo_digests),
            "Parent": "",
            "Comment": raw.get("comment", ""),
            "Created": self.created or "",
            "DockerVersion": raw.get("docker_version", ""),
            "Author": raw.get("author", ""),
            "Config": config,
            "Architecture": self.architecture,
            "Os": self.os,
            "Size": self.size,
            "RootFS": {"Type": "layers", "Layers": [str(d) for d in self.diff_ids]},
            "Metadata": {"LastTagTime": self.record.added},
            "Descriptor": {
                "mediaType": self.manifest.media_type,
                "digest": str(self.manifest_digest),
                "size": self.manifest_size,
            },
        }
        if self.config.variant:
            out["Variant"] = self.config.variant
        return out


_ALWAYS_SHOWN = frozenset({"Env", "Cmd", "Entrypoint", "Volumes", "Labels", "OnBuild"})


@struct(frozen=True, slots=True)
class RemoveEvent:
    """One line of `rmi` / `image prune` output: `Untagged: x` or `Deleted: sha256:...`."""

    action: Literal["Untagged", "Deleted"]
    subject: str

    def __str__(self) -> str:
        return f"{self.action}: {self.subject}"


@struct(frozen=True, slots=True)
class PruneReport:
    events: tuple[RemoveEvent, ...]
    reclaimed: int


@struct(frozen=True, slots=True)
class ImageUsage:
    """The images line of `system df`."""

    total: int
    active: int
    size: int
    reclaimable: int


@struct(frozen=True, slots=True)
class Problem:
    """One finding of `system check`. `kind` is one of corrupt-blob, missing-blob,
    missing-layer, broken-image, orphan-blob, orphan-layer, stray-file, corrupt-index."""

    kind: str
    subject: str
    detail: str
    repaired: bool = False


@struct(frozen=True, slots=True)
class CheckReport:
    problems: tuple[Problem, ...]
    blobs_checked: int
    layers_checked: int
    images_checked: int

    @property
    def ok(self) -> bool:
        """True when nothing is wrong any more (no problems, or all of them repaired)."""
        return all(p.repaired for p in self.problems)


def parse_time(text: str | None) -> datetime | None:
    """An RFC 3339 time (nanoseconds allowed, as Go writes them) or None."""
    if not text:
        return None
    import re  # listings only, not the start path
    from datetime import datetime

    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", text)
    if not m:
        return None

    frac = (m.group(2) or "")[:6].ljust(6, "0")
    zone = "+00:00" if m.group(3) == "Z" else m.group(3)
    try:
        return datetime.fromisoformat(f"{m.group(1)}.{frac}{zone}")
    except ValueError:
        return None


# -- the service -------------------------------------------------------------------------


@struct(slots=True)
class _Garbage:
    """What a deletion frees: blobs (unlinked under the lock) and layers (renamed to trash)."""

    events: builtins.list[RemoveEvent] = field(default_factory=builtins.list)
    trash: builtins.list[str] = field(default_factory=builtins.list)  # move_to_trash's
    reclaimed: int = 0


class ImageService:
    """Images of one store, with Docker's semantics (`docker images`, `rmi`, `tag`...).

    `in_use` tells whether an image may be removed; the container service passes one that
    names the container using it. All methods raise PycoreError subclasses only.
    """

    def __init__(self, store: Store, *, in_use: InUse | None = None) -> None:
        self.store = store
        self.in_use: InUse = in_use or _never_in_use
        self._docs: dict[Digest, tuple[Manifest, ImageConfig]] = {}

    # -- reading -------------------------------------------------------------------------

    def list(
        self,
        *,
        all: bool = False,
        references: Sequence[str] = (),
        dangling: bool | None = None,
    ) -> builtins.list[Image]:
        """Images, newest first. `references` (`ubuntu`, `ubuntu:22.04`, `foo/*`) keeps those
        with a matching name; `dangling` keeps only untagged (True) or tagged (False) ones.
        Without `all`, untagged images whose layers are a prefix of another image's (build
        intermediates, Docker's parent images) are hidden. Broken images are left out:
        `check()` reports them."""
        matchers = [_matcher(p) for p in references]
        images = [img for img in map(self._load_or_none, self.store.read_index().images) if img]
        if not all:
            chains = [img.diff_ids for img in images]
            images = [
                img
                for img in images
                if not (img.dangling and any(_is_prefix(img.diff_ids, c) for c in chains))
            ]
        if dangling is not None:
            images = [img for img in images if img.dangling == dangling]
        if matchers:
            images = [img for img in images if any(m(n) for m in matchers for n in img.names)]
        from datetime import UTC, datetime

        epoch = datetime.fromtimestamp(0, UTC)
        images.sort(key=lambda img: img.created_at or epoch, reverse=True)
        return images

    def get(self, ref_or_id: str) -> Image:
        """The image named by a reference (`ubuntu`, `docker.io/library/ubuntu:latest`,
        `ubuntu@sha256:...`), an image id or a unique prefix of one, or a manifest digest.

        Raises ImageNotFound, InvalidReference, UsageError (ambiguous short id), StoreError
        (the image's blobs are missing or corrupt)."""
        record, _ = self._resolve(self.store.read_index(), ref_or_id)
        return self._load(record)

    def exists(self, ref_or_id: str) -> bool:
        try:
            self._resolve(self.store.read_index(), ref_or_id)
        except NotFound:
            return False
        return True

    def inspect(self, ref_or_id: str) -> dict[str, Any]:
        """`docker image inspect` for one image."""
        return self.get(ref_or_id).inspect()

    # -- adding and naming ----------------------------------------------------------------

    def add(
        self,
        manifest_bytes: bytes,
        names: Iterable[str] = (),
        *,
        progress: LayerProgress | None = None,
    ) -> Image:
        """Register an image whose config and layer blobs are stored, naming it `names`
        (normalized: `busybox` becomes `docker.io/library/busybox:latest`)."""
        full = tuple(str(_tag_reference(n)) for n in names)
        from pycore.store.commit import commit_image  # threads and logging: off `run`'s path

        record = commit_image(self.store, manifest_bytes, full, progress=progress)
        return self._load(record)

    def tag(self, source: str, target: str) -> Reference:
        """Point the name `target` at the image `source` (moving it from any other image)."""
        ref = _tag_reference(target)

        def change(idx: ImageIndex) -> ImageIndex:
            record, _ = self._resolve(idx, source)
            if str(ref) in record.names:
                return idx
            return idx.with_image(
                ImageRecord(record.manifest, record.config, (*record.names, str(ref)), record.added)
            )

        self.store.update_index(change)
        return ref

    # -- removing --------------------------------------------------------------------------

    def remove(self, ref_or_id: str, *, force: bool = False) -> builtins.list[RemoveEvent]:
        """Docker's `rmi`: removing one of several names only untags; removing the last name,
        or removing by id, deletes the image and the blobs and layers no other image uses.

        By id, an image tagged in several repositories needs `force` (which untags them all).
        An image `in_use` is refused; with `force` its names are removed but it is kept.
        Raises ImageNotFound, Conflict."""
        with self.store.locked():
            idx = self.store.read_index()
            record, by_name = self._resolve(idx, ref_or_id)
            garbage = _Garbage()
            new = self._remove_locked(idx, record, by_name, ref_or_id, force, garbage)
            if new is not idx:
                _write_index(self.store, new)
            if new.by_manifest(record.manifest) is None:
                self._collect_locked(new, [record], garbage)
        self._empty_trash(garbage)
        return garbage.events

    def _remove_locked(
        self,
        idx: ImageIndex,
        record: ImageRecord,
        by_name: str | None,
        text: str,
        force: bool,
        garbage: _Garbage,
    ) -> ImageIndex:
        untag = garbage.events
        if by_name is not None and len(record.names) > 1:
            untag.append(RemoveEvent("Untagged", Reference.parse(by_name).familiar))
            return idx.untag(by_name)
        if by_name is None:
            repos = {Reference.parse(n).repository for n in record.names}
            if len(repos) > 1 and not force:
                raise Conflict(
                    f"conflict: unable to delete {record.config.short} (must be forced) - "
                    "image is referenced in multiple repositories"
                )
        reason = self.in_use(record)
        if reason is not None and not force:
            what = f"repository reference {text!r}" if by_name else record.config.short
            raise Conflict(f"conflict: unable to remove {what} (must force) - {reason}")
        for name in record.names:
            untag.append(RemoveEvent("Untagged", Reference.parse(name).familiar))
        if reason is not None:
            # Forced while in use: untag, but keep the layers the container runs on.
            return idx.with_image(ImageRecord(record.manifest, record.config, (), record.added))
        return idx.without(record.manifest)

    def prune(self, *, all: bool = False) -> PruneReport:
        """Remove dangling (untagged) images; with `all`, every image not in use."""
        garbage = _Garbage()
        with self.store.locked():
            idx = self.store.read_index()
            victims = [r for r in idx.images if (all or not r.names) and self.in_use(r) is None]
            new = idx
            for r in victims:
                garbage.events.extend(
                    RemoveEvent("Untagged", Reference.parse(n).familiar) for n in r.names
                )
                new = new.without(r.manifest)
            if victims:
                _write_index(self.store, new)
            self._collect_locked(new, victims, garbage)
        self._empty_trash(garbage)
        return PruneReport(tuple(garbage.events), garbage.reclaimed)

    def _collect_locked(
        self, remaining: ImageIndex, removed: Sequence[ImageRecord], garbage: _Garbage
    ) -> None:
        """Delete what only the `removed` images used. Called with the store lock held."""
        if not removed:
            return
        keep_blobs, keep_layers = self._referenced(remaining.images)
        lay = self.store.layout
        for record in removed:
            garbage.events.append(RemoveEvent("Deleted", str(record.config)))
            blobs, layers = self._parts(record)
            for digest in blobs:
                if digest in keep_blobs:
                    continue
                keep_blobs.add(digest)  # a digest shared by two removed images: once
                garbage.reclaimed += _size_of(lay.blob(digest))
                self.store.remove_blob(digest)
            for diff_id in layers:
                if diff_id in keep_layers:
                    continue
                keep_layers.add(diff_id)
                moved = self.store.move_to_trash(lay.layer(diff_id))
                if moved is not None:
                    garbage.trash.append(moved)
                    garbage.events.append(RemoveEvent("Deleted", str(diff_id)))

    def _empty_trash(self, garbage: _Garbage) -> None:
        from pycore.store import workdir

        for path in garbage.trash:
            garbage.reclaimed += tree_size(path)
            workdir.remove_tree(path)

    # -- accounting ------------------------------------------------------------------------

    def disk_usage(self) -> ImageUsage:
        """Images, images in use, bytes of blobs and unpacked layers, and the bytes that
        removing every unused image would free (shared content counted once)."""
        records = self.store.read_index().images
        active = [r for r in records if self.in_use(r) is not None]
        all_blobs, all_layers = self._referenced(records)
        used_blobs, used_layers = self._referenced(active)
        lay = self.store.layout
        blob_sizes = {d: _size_of(lay.blob(d)) for d in all_blobs}
        layer_sizes = {d: tree_size(lay.layer(d)) for d in all_layers}
        size = sum(blob_sizes.values()) + sum(layer_sizes.values())
        used = sum(blob_sizes[d] for d in used_blobs) + sum(layer_sizes[d] for d in used_layers)
        return ImageUsage(len(records), len(active), size, size - used)

    # -- checking --------------------------------------------------------------------------

    def check(self, *, repair: bool = False) -> CheckReport:
        """Re-verify every blob's digest, every image's blobs and unpacked layers, and find
        blobs and layers no image uses. With `repair`: re-extract missing layers from intact
        blobs, then remove corrupt blobs, the images that are broken and the orphans."""
        from pycore.image_check import run_check

        return run_check(self, repair=repair)

    # -- internals -------------------------------------------------------------------------

    def _resolve(self, idx: ImageIndex, text: str) -> tuple[ImageRecord, str | None]:
        """The record `text` names, and the full name it matched when it matched by name."""
        full = _id_hex(text, prefix=False)
        if full is not None:
            found = [r for r in idx.images if r.config.hex == full]
            found = found or [r for r in idx.images if r.manifest.hex == full]
            return _one(found, text), None
        ref: Reference | None = None
        bad: InvalidReference | None = None
        try:
            ref = Reference.parse(text)
        except InvalidReference as e:
            bad = e
        if ref is not None:
            if ref.digest is not None:
                record = idx.by_manifest(ref.digest)
                if record is None:
                    raise ImageNotFound(f"No such image: {ref.familiar}")
                return record, None
            record = idx.by_name(str(ref))
            if record is not None:
                return record, str(ref)
        prefix = _id_hex(text, prefix=True)
        if prefix is not None:
            found = [r for r in idx.images if r.config.hex.startswith(prefix)]
            if found:
                return _one(found, text), None
        if bad is not None:
            raise bad
        assert ref is not None
        raise ImageNotFound(f"No such image: {ref.familiar}")

    def _docs_of(self, record: ImageRecord) -> tuple[Manifest, ImageConfig]:
        cached = self._docs.get(record.manifest)
        if cached is not None:
            return cached
        what = record.names[0] if record.names else record.config.short
        try:
            manifest = Manifest.parse(self.store.read_blob(record.manifest))
            config = ImageConfig.parse(self.store.read_blob(manifest.config.digest))
        except (NotFound, DigestMismatch, InvalidDocument) as e:
            raise StoreError(
                f"image {what} is broken ({e}); run 'pycore system check --repair'"
            ) from e
        self._docs[record.manifest] = (manifest, config)
        return manifest, config

    def _load(self, record: ImageRecord) -> Image:
        manifest, config = self._docs_of(record)
        return Image(record, manifest, config, _size_of(self.store.layout.blob(record.manifest)))

    def _load_or_none(self, record: ImageRecord) -> Image | None:
        try:
            return self._load(record)
        except StoreError:
            return None

    def _parts(self, record: ImageRecord) -> tuple[set[Digest], set[Digest]]:
        """Blobs and layers an image uses; just its manifest and config when it is broken."""
        blobs = {record.manifest, record.config}
        try:
            manifest, config = self._docs_of(record)
        except StoreError:
            return blobs, set()
        blobs.update(layer.digest for layer in manifest.layers)
        return blobs, set(config.diff_ids)

    def _referenced(self, records: Iterable[ImageRecord]) -> tuple[set[Digest], set[Digest]]:
        blobs: set[Digest] = set()
        layers: set[Digest] = set()
        for record in records:
            b, la = self._parts(record)
            blobs |= b
            layers |= la
        return blobs, layers


# -- helpers -------------------------------------------------------------------------------


def _write_index(store: Store, idx: ImageIndex) -> None:
    from pycore.store import index as index_file

    index_file.write(store.layout.image_index, idx)


def _tag_reference(text: str) -> Reference:
    ref = Reference.parse(text)
    if ref.digest is not None:
        raise InvalidReference(f"invalid tag {text!r}: a tag cannot include a digest")
    return ref


def _one(found: builtins.list[ImageRecord], text: str) -> ImageRecord:
    configs = {r.config for r in found}
    if not found:
        raise ImageNotFound(f"No such image: {text}")
    if len(configs) > 1:
        raise UsageError(f"short id {text!r} is ambiguous: it matches {len(configs)} images")
    if len(found) > 1:
        manifests = ", ".join(str(r.manifest) for r in found)
        raise UsageError(
            f"image id {text!r} has several manifests ({manifests}); name one by its digest"
        )
    return found[0]


def _is_prefix(short: tuple[Digest, ...], long: tuple[Digest, ...]) -> bool:
    return len(short) < len(long) and long[: len(short)] == short


def _matcher(pattern: str) -> Callable[[Reference], bool]:
    """A name filter like Docker's `reference=` (globs do not cross '/')."""
    if any(c in pattern for c in "*?"):
        import re  # `images` filters only, not the start path

        has_tag = pattern.rfind(":") > pattern.rfind("/")
        regex = re.compile(
            "".join("[^/]*" if c == "*" else "[^/]" if c == "?" else re.escape(c) for c in pattern)
        )

        def glob(ref: Reference) -> bool:
            if has_tag:
                return bool(regex.fullmatch(f"{ref.familiar_repository}:{ref.tag}"))
            return bool(regex.fullmatch(ref.familiar_repository))

        return glob
    want = Reference.parse(pattern, default_tag=False)

    def exact(ref: Reference) -> bool:
        return ref.repository == want.repository and want.tag in (None, ref.tag)

    return exact


def _size_of(path: StrPath) -> int:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0


def tree_size(path: StrPath) -> int:
    """Apparent size of the files under `path`, never following symlinks."""
    total = 0
    stack = [os.fspath(path)]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                else:
                    total += entry.stat(follow_symlinks=False).st_size
            except OSError:
                continue
    return total


def verify_blob(store: Store, digest: Digest) -> str | None:
    """Why the stored blob `digest` is not intact (missing, or hashes to something else)."""
    path = store.layout.blob(digest)
    if not os.path.exists(path):
        return "missing"
    try:
        actual = native.sha256_file(path)
    except (OSError, PycoreError) as e:
        return f"unreadable ({e})"
    return None if actual == digest else f"content hashes to {actual}"


__all__ = [
    "CheckReport",
    "Image",
    "ImageService",
    "ImageUsage",
    "InUse",
    "Problem",
    "PruneReport",
    "RemoveEvent",
    "parse_time",
    "tree_size",
    "verify_blob",
]
