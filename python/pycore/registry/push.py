"""Push: upload the blobs of a local image that the registry lacks (HEAD first, a
cross-repository mount when the image came from another repository of the same registry,
else a monolithic or chunked upload), then PUT its manifest by tag or digest."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pycore.digest import Digest
from pycore.errors import InvalidReference, PushSourceNotFound, UsageError
from pycore.oci.models import Descriptor, Manifest
from pycore.reference import Reference
from pycore.registry import events as ev
from pycore.registry.auth import push_scope
from pycore.registry.client import RegistryClient, RegistryOptions
from pycore.registry.http import FileBody
from pycore.registry.pull import local_name
from pycore.store.index import ImageRecord
from pycore.store.store import Store
from pycore.structs import struct


@struct(frozen=True, slots=True)
class PushResult:
    """What a push did: the manifest digest the registry now has under `name`."""

    name: str
    digest: Digest
    size: int  # manifest bytes
    uploaded: int  # blob bytes sent
    skipped: int  # blobs the registry already had
    mounted: int  # blobs mounted from another repository


def find_local(store: Store, ref: Reference) -> ImageRecord:
    """The local image `ref` names (`repo:tag`, `repo@digest`); raises PushSourceNotFound."""
    idx = store.read_index()
    record = idx.by_name(local_name(ref))
    if record is None and ref.digest is not None:
        record = idx.by_manifest(ref.digest)
    if record is None:
        raise PushSourceNotFound(f"an image does not exist locally with the tag: {ref.familiar}")
    return record


def push(
    store: Store,
    ref: Reference | str,
    options: RegistryOptions,
    *,
    listener: ev.Listener = ev.ignore,
) -> PushResult:
    """Push the local image `ref` to the registry its name points at. Raises PushSourceNotFound,
    RegistryError leaves (unreachable, unauthorized, ...)."""
    if isinstance(ref, str):
        ref = Reference.parse(ref)
    record = find_local(store, ref)
    if ref.digest is not None and ref.digest != record.manifest:
        raise UsageError(f"{ref} names manifest {record.manifest}, not {ref.digest}")
    data = store.read_blob(record.manifest)
    manifest = Manifest.parse(data, f"manifest {record.manifest.short}")
    with RegistryClient(ref.domain, options) as client:
        return _Push(store, client, ref, record, listener).run(data, manifest)


class _Push:
    def __init__(
        self,
        store: Store,
        client: RegistryClient,
        ref: Reference,
        record: ImageRecord,
        listener: ev.Listener,
    ) -> None:
        self.store = store
        self.client = client
        self.ref = ref
        self.repo = ref.path
        self.emit = listener
        self.sources = _mount_sources(record, ref)
        self._lock = threading.Lock()
        self.uploaded = self.skipped = self.mounted = 0

    def run(self, data: bytes, manifest: Manifest) -> PushResult:
        ref = self.ref
        self.emit(ev.TransferEvent("", f"The push refers to repository [{ref.repository}]"))
        blobs = list({d.digest: d for d in (*manifest.layers, manifest.config)}.values())
        for d in blobs:
            self.emit(ev.TransferEvent(d.digest.short, ev.PREPARING))
        parallel = max(1, self.client.options.parallel)
        with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="upload") as pool:
            for fut in [pool.submit(self._blob, d) for d in blobs]:
                fut.result()
        target = str(ref.digest) if ref.digest else ref.tag or "latest"
        digest = self.client.put_manifest(self.repo, target, data, manifest.media_type)
        label = ref.tag if ref.digest is None else "digest"
        self.emit(ev.TransferEvent("", f"{label}: digest: {digest} size: {len(data)}"))
        name = f"{ref.repository}@{digest}" if ref.digest else f"{ref.repository}:{target}"
        return PushResult(name, digest, len(data), self.uploaded, self.skipped, self.mounted)

    def _blob(self, desc: Descriptor) -> None:
        short = desc.digest.short
        client = self.client
        if client.blob_exists(self.repo, desc.digest, scopes=(push_scope(self.repo),)):
            self.emit(ev.TransferEvent(short, ev.PUSH_EXISTS))
            with self._lock:
                self.skipped += 1
            return
        location = None
        for source in self.sources:
            location = client.mount_blob(self.repo, desc.digest, source)
            if location is None:
                self.emit(ev.TransferEvent(short, f"{ev.MOUNTED} {source}"))
                with self._lock:
                    self.mounted += 1
                return
            break  # the registry opened an upload instead: use it
        path = Path(self.store.blob_path(desc.digest))
        size = path.stat().st_size
        if location is None:
            location = client.start_upload(self.repo)
        self.emit(ev.TransferEvent(short, ev.PUSHING, 0, size))
        opts = client.options
        if size > opts.chunk_threshold:
            offset = 0
            while offset < size:
                n = min(opts.chunk_size, size - offset)
                location = client.upload_chunk(self.repo, location, path, offset, n)
                offset += n
                self.emit(ev.TransferEvent(short, ev.PUSHING, offset, size))
            client.finish_upload(self.repo, location, desc.digest, None)
        else:
            client.finish_upload(self.repo, location, desc.digest, FileBody(path, 0, size))
            self.emit(ev.TransferEvent(short, ev.PUSHING, size, size))
        with self._lock:
            self.uploaded += size
        self.emit(ev.TransferEvent(short, ev.PUSHED))


def _mount_sources(record: ImageRecord, ref: Reference) -> list[str]:
    """Other repositories of the same registry this image is known under: the registry may
    already hold its blobs there, and a mount saves the upload."""
    out: list[str] = []
    for name in record.names:
        try:
            other = Reference.parse(name)
        except InvalidReference:
            continue
        if other.domain == ref.domain and other.path != ref.path and other.path not in out:
            out.append(other.path)
    return out
