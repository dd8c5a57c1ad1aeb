"""Pull: resolve a reference to one platform's manifest, download the missing blobs (three at
once, resuming partial downloads with Range), unpack each layer while it downloads (the body is
teed into a pipe the native unpacker reads), then register the image under the lock
(`commit_image`)."""

from __future__ import annotations

import contextlib
import fcntl
import http.client
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

from pycore.digest import Digest
from pycore.errors import (
    DigestMismatch,
    ImageNotFound,
    InvalidManifest,
    RegistryDigestMismatch,
    RegistryError,
    RegistryNotFound,
    UnsupportedMediaType,
    UsageError,
)
from pycore.oci import mediatypes as mt
from pycore.oci.models import Descriptor, ImageConfig, Index, InvalidDocument, Manifest, Platform
from pycore.oci.platform import host_platform, matches
from pycore.reference import Reference
from pycore.registry import events as ev
from pycore.registry.client import FetchedManifest, RegistryClient, RegistryOptions
from pycore.registry.http import transport_error
from pycore.store.commit import commit_image
from pycore.store.index import ImageRecord
from pycore.store.store import Store
from pycore.structs import struct

MAX_CONFIG = 16 << 20
_BUF = 1 << 20
_EMIT_EVERY = 0.1  # seconds between two "Downloading" events of one blob
_UNPACKERS = 2

_File = BinaryIO
_Header = Callable[[str], str | None]  # a response's header lookup
_ReadInto = Callable[[memoryview], int]  # a response body's readinto


@struct(frozen=True, slots=True)
class PullResult:
    """What a pull did. `digest` is the manifest stored (one platform's); `resolved` is what the
    reference resolved to on the registry (the index, for a multi-platform image)."""

    record: ImageRecord
    name: str
    digest: Digest
    resolved: Digest
    downloaded: int  # body bytes fetched for blobs (less than their size when resumed)
    new: bool  # False when the image was already complete under this name


def parse_platform(text: str) -> Platform:
    """`os/arch[/variant]`, e.g. `linux/arm64/v8`; raises UsageError."""
    parts = text.strip().split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise UsageError(f"invalid platform {text!r}: expected os/arch[/variant]")
    return Platform(
        os=parts[0], architecture=parts[1], variant=parts[2] if len(parts) == 3 else None
    )


def local_name(ref: Reference) -> str:
    """The name a pulled image gets: `repo:tag`, or `repo@digest` for a pull by digest."""
    if ref.digest is not None:
        return f"{ref.repository}@{ref.digest}"
    return f"{ref.repository}:{ref.tag or 'latest'}"


def pull(
    store: Store,
    ref: Reference | str,
    options: RegistryOptions,
    *,
    platform: Platform | None = None,
    listener: ev.Listener = ev.ignore,
) -> PullResult:
    """Pull `ref` into `store` and name it. Raises RegistryError leaves (unreachable,
    unauthorized, not found, digest mismatch, ...), UsageError for a bad reference or platform.
    """
    if isinstance(ref, str):
        ref = Reference.parse(ref)
    with RegistryClient(ref.domain, options) as client:
        return _Pull(store, client, ref, platform or host_platform(), listener).run()


def ensure_image(
    store: Store,
    ref: Reference | str,
    policy: str,
    options: RegistryOptions,
    *,
    platform: Platform | None = None,
    listener: ev.Listener = ev.ignore,
) -> ImageRecord:
    """The image `ref` names, pulling it as `policy` says: `missing` (only when not in the
    store), `always`, or `never` (ImageNotFound when absent). For `pycore run --pull`."""
    if policy not in ("missing", "always", "never"):
        raise UsageError(f"invalid pull policy {policy!r}: expected missing, always or never")
    if isinstance(ref, str):
        ref = Reference.parse(ref)
    if policy != "always":
        record = store.read_index().by_name(local_name(ref))
        if record is not None:
            return record
        if policy == "never":
            raise ImageNotFound(f"image {ref.familiar} not found locally (pull policy never)")
    return pull(store, ref, options, platform=platform, listener=listener).record


class _Pull:
    def __init__(
        self,
        store: Store,
        client: RegistryClient,
        ref: Reference,
        platform: Platform,
        listener: ev.Listener,
    ) -> None:
        self.store = store
        self.client = client
        self.ref = ref
        self.repo = ref.path
        self.platform = platform
        self.emit = listener
        self.cancelled = threading.Event()
        self._lock = threading.Lock()
        self.downloaded = 0
        self.where = f"{ref.domain}/{ref.path}"

    def run(self) -> PullResult:
        ref = self.ref
        head = ref.tag if ref.digest is None else ref.digest.short
        self.emit(ev.TransferEvent("", f"{head}: Pulling from {self.repo}"))
        top = self.client.get_manifest(
            self.repo, str(ref.digest) if ref.digest else ref.tag or "latest"
        )
        fetched = self._platform_manifest(top) if top.is_index else top
        manifest = self._parse_manifest(fetched)
        config = self._config(manifest)
        name = local_name(ref)
        before = self.store.read_index().by_name(name)
        self._layers(manifest, config)
        record = commit_image(self.store, fetched.data, names=(name,))
        self.emit(ev.TransferEvent("", f"Digest: {top.digest}"))
        new = before is None or before.manifest != record.manifest or self.downloaded > 0
        shown = ref.familiar if ref.digest is None else f"{ref.familiar_repository}@{ref.digest}"
        self.emit(
            ev.TransferEvent(
                "",
                f"Status: Downloaded newer image for {shown}"
                if new
                else f"Status: Image is up to date for {shown}",
            )
        )
        return PullResult(record, name, record.manifest, top.digest, self.downloaded, new)

    # -- manifests -------------------------------------------------------------------------

    def _platform_manifest(self, top: FetchedManifest) -> FetchedManifest:
        what = f"index {self.where}@{top.digest.short}"
        try:
            index = Index.parse(top.data, what)
        except InvalidDocument as e:
            raise InvalidManifest(str(e)) from e
        desc = choose_platform(index, self.platform, what)
        child = self.client.get_manifest(self.repo, str(desc.digest))
        if child.is_index:
            raise UnsupportedMediaType(f"{what}: nested indexes are not supported")
        return child

    def _parse_manifest(self, fetched: FetchedManifest) -> Manifest:
        what = f"manifest {self.where}@{fetched.digest.short}"
        try:
            manifest = Manifest.parse(fetched.data, what)
        except InvalidDocument as e:
            raise InvalidManifest(str(e)) from e
        if manifest.config.media_type not in mt.CONFIGS:
            raise UnsupportedMediaType(
                f"{what}: config media type {manifest.config.media_type!r} is not an image "
                "(an artifact?)"
            )
        for layer in manifest.layers:
            if layer.media_type not in mt.LAYERS:
                raise UnsupportedMediaType(
                    f"{what}: unsupported layer media type {layer.media_type!r}"
                )
        return manifest

    def _config(self, manifest: Manifest) -> ImageConfig:
        desc = manifest.config
        what = f"image config {desc.digest.short} of {self.where}"
        if self.store.has_blob(desc.digest):
            data = self.store.read_blob(desc.digest)
        else:
            data = self.client.read_blob(self.repo, desc.digest, MAX_CONFIG)
        try:
            config = ImageConfig.parse(data, what)
        except InvalidDocument as e:
            raise InvalidManifest(str(e)) from e
        if len(config.diff_ids) != len(manifest.layers):
            raise InvalidManifest(
                f"{what}: lists {len(config.diff_ids)} diff_ids for {len(manifest.layers)} layers"
            )
        self.store.put_blob(data)
        return config

    # -- layers ----------------------------------------------------------------------------

    def _layers(self, manifest: Manifest, config: ImageConfig) -> None:
        todo: dict[Digest, tuple[Descriptor, Digest]] = {}
        for desc, diff_id in zip(manifest.layers, config.diff_ids, strict=True):
            if desc.digest in todo:
                continue
            have_blob = self.store.has_blob(desc.digest)
            if have_blob and self.store.has_layer(diff_id):
                self.emit(ev.TransferEvent(desc.digest.short, ev.EXISTS))
                continue
            todo[desc.digest] = (desc, diff_id)
            if not have_blob:
                self.emit(ev.TransferEvent(desc.digest.short, ev.PULLING))
        if not todo:
            return
        unpackers = ThreadPoolExecutor(max_workers=_UNPACKERS, thread_name_prefix="unpack")
        downloaders = ThreadPoolExecutor(
            max_workers=max(1, self.client.options.parallel), thread_name_prefix="download"
        )
        # One streaming unpack per running download: it must never wait for a free worker,
        # or the download feeding it would block on the full pipe.
        streams = ThreadPoolExecutor(
            max_workers=max(1, self.client.options.parallel), thread_name_prefix="stream"
        )
        unpacks: list[Future[None]] = []

        def one(desc: Descriptor, diff_id: Digest) -> None:
            if not self.store.has_blob(desc.digest) and self._download(desc, diff_id, streams):
                return  # unpacked while it downloaded
            if not self.cancelled.is_set():
                unpacks.append(unpackers.submit(self._unpack, desc, diff_id))

        try:
            downloads = [downloaders.submit(one, d, i) for d, i in todo.values()]
            for fut in downloads:
                fut.result()
            downloaders.shutdown(wait=True)
            for ufut in list(unpacks):
                ufut.result()
        except BaseException:
            self.cancelled.set()
            raise
        finally:
            downloaders.shutdown(wait=True, cancel_futures=True)
            streams.shutdown(wait=True, cancel_futures=True)
            unpackers.shutdown(wait=True, cancel_futures=True)

    def _unpack(self, desc: Descriptor, diff_id: Digest) -> None:
        short = desc.digest.short
        last = [0.0]

        def progress(n: int) -> None:
            now = time.monotonic()
            if now - last[0] >= _EMIT_EVERY:
                last[0] = now
                self.emit(ev.TransferEvent(short, ev.EXTRACTING, n, desc.size))

        self.emit(ev.TransferEvent(short, ev.EXTRACTING, 0, desc.size))
        self.store.unpack_layer(desc.digest, diff_id, size=desc.size, progress=progress)
        self.emit(ev.TransferEvent(short, ev.PULLED))

    def _unpack_stream(self, desc: Descriptor, diff_id: Digest, tee: _Tee) -> None:
        """Unpack what the download tees into the pipe; its events are sent by the download
        (one step at a time on the layer's line: the extraction ends just after the download)."""
        try:
            self.store.unpack_layer(desc.digest, diff_id, size=desc.size, source=tee.rfd)
        finally:
            tee.close_reader()  # a writer still teeing learns that nobody reads (EPIPE)

    def _download(self, desc: Descriptor, diff_id: Digest, streams: ThreadPoolExecutor) -> bool:
        """Fetch one blob into its stable partial file, resuming what an earlier pull left,
        then move it into the blob store, which verifies size and digest. A fresh download of
        a layer not yet unpacked is unpacked as it arrives (then True is returned)."""
        path = Path(self.store.layout.download(desc.digest))
        fd = _open_locked(path)
        try:
            if self.store.has_blob(desc.digest):  # another pull finished it while we waited
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                return False
            with os.fdopen(os.dup(fd), "r+b") as f:
                fresh = f.seek(0, os.SEEK_END) == 0
                if fresh and not self.store.has_layer(diff_id) and not self.cancelled.is_set():
                    return self._fetch_unpacking(desc, diff_id, f, path, streams)
                self._fetch_into(desc, f)
            self._ingest(desc, path, verified=False)
            return False
        finally:
            os.close(fd)

    def _fetch_unpacking(
        self,
        desc: Descriptor,
        diff_id: Digest,
        f: _File,
        path: Path,
        streams: ThreadPoolExecutor,
    ) -> bool:
        """Download into `f` while teeing the body into the native unpacker. The unpacker
        verifies size, digest and diff_id over exactly the bytes written to `f`, so on success
        the blob is placed without hashing it again. If the unpacker stops early (a bad layer),
        the download goes on into the file alone and the blob is verified the usual way, so a
        tampered blob still reads as a digest mismatch. False when the layer still has to be
        unpacked from the stored blob (the tee was cut: the download had to start over)."""
        tee = _Tee()
        unpacking = streams.submit(self._unpack_stream, desc, diff_id, tee)
        try:
            self._fetch_into(desc, f, tee)
        except BaseException:
            tee.finish()
            with contextlib.suppress(BaseException):
                unpacking.result()  # it fails on the truncated stream: the download's error wins
            raise
        tee.finish()
        failure = unpacking.exception()
        if failure is None and tee.whole:
            self._ingest(desc, path, verified=True)
            self.emit(ev.TransferEvent(desc.digest.short, ev.EXTRACTING, desc.size, desc.size))
            self.emit(ev.TransferEvent(desc.digest.short, ev.PULLED))
            return True
        self._ingest(desc, path, verified=False)
        if failure is not None and not tee.cut:
            raise failure
        return False

    def _ingest(self, desc: Descriptor, path: Path, *, verified: bool) -> None:
        self.emit(ev.TransferEvent(desc.digest.short, ev.VERIFYING))
        try:
            self.store.ingest_blob(path, expected=desc.digest, size=desc.size, verified=verified)
        except DigestMismatch as e:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            raise RegistryDigestMismatch(f"blob {desc.digest.short} from {self.where}: {e}") from e
        self.emit(ev.TransferEvent(desc.digest.short, ev.DOWNLOADED))

    def _fetch_into(self, desc: Descriptor, f: _File, tee: _Tee | None = None) -> None:
        size = desc.size
        offset = f.seek(0, os.SEEK_END)
        if offset > size:
            f.truncate(0)
            offset = 0
        short = desc.digest.short
        opts = self.client.options.http
        failures = 0
        while offset < size:
            if self.cancelled.is_set():
                raise _Cancelled()
            resp = self.client.open_blob(self.repo, desc.digest, offset)
            try:
                if resp.status == 416:  # our partial is no prefix the server knows: restart
                    offset = _restart(f, tee)
                    failures += 1
                    if failures > opts.retries:
                        raise RegistryError(
                            f"blob {short} of {self.where}: the registry refuses range requests"
                        )
                    continue
                offset = self._check_answer(resp.status, resp.header, desc, offset, f, tee)
                self.emit(ev.TransferEvent(short, ev.DOWNLOADING, offset, size))
                offset = self._stream(resp.readinto, desc, f, offset, tee)
            except (OSError, http.client.HTTPException) as e:
                offset = f.tell()
                failures += 1
                if failures > opts.retries:
                    raise transport_error(self.client.registry, e) from e
                time.sleep(opts.backoff * (2.0 ** (failures - 1)))
                continue
            finally:
                resp.close()
            if offset < size:  # the body ended early: the connection dropped, resume
                failures += 1
                if failures > opts.retries:
                    raise RegistryError(
                        f"blob {short} of {self.where}: the registry closed the connection "
                        f"after {offset} of {size} bytes"
                    )
                time.sleep(opts.backoff * (2.0 ** (failures - 1)))
        f.flush()

    def _check_answer(
        self,
        status: int,
        header: _Header,
        desc: Descriptor,
        offset: int,
        f: _File,
        tee: _Tee | None,
    ) -> int:
        """Where the body starts: `offset` for a 206 from there, 0 for a whole-blob 200."""
        short = desc.digest.short
        if status == 200:
            length = header("Content-Length")
            if length is not None and length.isdigit() and int(length) != desc.size:
                raise RegistryDigestMismatch(
                    f"blob {short} of {self.where}: size mismatch: expected {desc.size} bytes, "
                    f"the registry sends {length}"
                )
            return _restart(f, tee) if offset else 0
        content_range = header("Content-Range") or ""
        start, _, total = content_range.removeprefix("bytes ").partition("/")
        first = start.split("-", 1)[0]
        if total.isdigit() and int(total) != desc.size:
            raise RegistryDigestMismatch(
                f"blob {short} of {self.where}: size mismatch: expected {desc.size} bytes, "
                f"the registry has {total}"
            )
        if not first.isdigit() or int(first) != offset:
            raise RegistryError(
                f"blob {short} of {self.where}: bad Content-Range {content_range!r}"
            )
        return offset

    def _stream(
        self, readinto: _ReadInto, desc: Descriptor, f: _File, offset: int, tee: _Tee | None
    ) -> int:
        buf = bytearray(_BUF)
        view = memoryview(buf)
        short = desc.digest.short
        last = time.monotonic()
        while True:
            if self.cancelled.is_set():
                raise _Cancelled()
            n = readinto(view)
            if not n:
                return offset
            if offset + n > desc.size:
                raise RegistryDigestMismatch(
                    f"blob {short} of {self.where}: size mismatch: the registry sends more than "
                    f"{desc.size} bytes"
                )
            f.write(view[:n])
            if tee is not None:
                tee.write(view[:n])
            offset += n
            with self._lock:
                self.downloaded += n
            now = time.monotonic()
            if now - last >= _EMIT_EVERY or offset == desc.size:
                last = now
                self.emit(ev.TransferEvent(short, ev.DOWNLOADING, offset, desc.size))


def choose_platform(index: Index, want: Platform, what: str) -> Descriptor:
    """The index entry for `want`: an exact variant match first, then a compatible one.
    Attestation entries (`unknown/unknown`) and nested non-manifests are never chosen."""
    candidates = [
        d for d in index.manifests if d.media_type in mt.MANIFESTS and matches(want, d.platform)
    ]
    exact = [d for d in candidates if d.platform is not None and d.platform.variant == want.variant]
    chosen = (exact or candidates)[:1]
    if not chosen:
        have = ", ".join(str(d.platform) for d in index.manifests if d.platform) or "none"
        raise RegistryNotFound(
            f"{what}: no matching manifest for {want} in the manifest list entries "
            f"(available: {have})"
        )
    return chosen[0]


class _Cancelled(RegistryError):
    def __init__(self) -> None:
        super().__init__("pull cancelled")


def _open_locked(path: Path) -> int:
    """Open (creating) the partial file and hold its flock; a second pull of the same blob
    waits here. Re-opens when the file was renamed away (finished) while we waited."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if os.stat(path).st_ino == os.fstat(fd).st_ino:
                return fd
        except FileNotFoundError:
            pass
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)


def _restart(f: _File, tee: _Tee | None) -> int:
    f.seek(0)
    f.truncate(0)
    if tee is not None:
        tee.cut_off()  # the unpacker has read bytes that are no longer the file's
    return 0


class _Tee:
    """A pipe from a download to the unpacker reading it (`rfd`, passed to the native unpack),
    with what became of it: `whole` while every byte of the file also went down the pipe,
    `cut` when the download had to start over."""

    def __init__(self) -> None:
        self.rfd, self._wfd = os.pipe2(os.O_CLOEXEC)
        # Fewer, larger handovers; the unpacker reads 256 KiB blocks. Best effort.
        with contextlib.suppress(OSError):
            fcntl.fcntl(self._wfd, fcntl.F_SETPIPE_SZ, _BUF)
        self.whole = True
        self.cut = False

    def write(self, data: memoryview) -> None:
        if self._wfd < 0:
            return
        try:
            while data:
                data = data[os.write(self._wfd, data) :]
        except BrokenPipeError:  # the unpacker stopped: the download goes on without it
            self._close_writer()
            self.whole = False

    def cut_off(self) -> None:
        self._close_writer()
        self.whole = False
        self.cut = True

    def finish(self) -> None:
        """The download is over (or failed): EOF for the unpacker."""
        self._close_writer()

    def close_reader(self) -> None:
        if self.rfd >= 0:
            os.close(self.rfd)
            self.rfd = -1

    def _close_writer(self) -> None:
        if self._wfd >= 0:
            os.close(self._wfd)
            self._wfd = -1
