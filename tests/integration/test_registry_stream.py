"""Pull unpacks a layer while it downloads (the body is teed into the native unpacker): the
overlap itself, a layer refused mid-stream (the blob is still verified and kept, as before) and
a blob corrupted mid-stream (still a digest mismatch, nothing kept)."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
import time
from pathlib import Path

import pytest

from pycore.digest import Digest
from pycore.errors import LayerError, RegistryDigestMismatch
from pycore.oci import mediatypes as mt
from pycore.oci.models import Descriptor
from pycore.registry import TransferEvent, pull
from pycore.store.store import Store
from tests.helpers.fake_registry import FakeRegistry, Reply
from tests.helpers.images import BuiltImage, build_image, image_documents
from tests.helpers.registry import api_options

MIB = 1 << 20


def serve(fake: FakeRegistry, store: Store, manifest: bytes, blobs: list[Digest]) -> None:
    fake.serve_image(
        "x/app",
        "1",
        manifest,
        mt.OCI_MANIFEST,
        {str(d): Path(store.blob_path(d)).read_bytes() for d in blobs},
    )


def blob_route(fake: FakeRegistry, digest: Digest) -> Reply:
    route = fake.routes[f"/v2/x/app/blobs/{digest}"]
    assert isinstance(route, Reply)
    return route


def assert_nothing_left(store: Store) -> None:
    assert not os.listdir(store.layout.downloads)
    assert not [p for p in os.listdir(store.layout.tmp) if not p.startswith(".")]


def test_a_layer_is_unpacked_while_it_downloads(tmp_path: Path) -> None:
    # Random bytes do not compress: a 12 MB blob.
    files = {f"data/{i:02d}.bin": os.urandom(MIB) for i in range(12)}
    src = Store.open(tmp_path / "src")
    built: BuiltImage = build_image(src, [files])
    layer, diff_id = built.layers[0], built.diff_ids[0]
    dst = Store.open(tmp_path / "b")
    extracted_at_half: list[str] = []
    held: list[int] = []

    def hold_at_half(sent: int) -> None:
        """The server stops sending at half the blob until the layer's first files exist in
        the unpacker's scratch tree: they can only come from the half already sent."""
        if sent < layer.size // 2 or held:
            return
        held.append(sent)
        deadline = time.monotonic() + 8  # under the client's 10 s read timeout
        while time.monotonic() < deadline and not extracted_at_half:
            extracted_at_half.extend(
                sorted(p.name for p in Path(dst.layout.tmp).glob("unpack-*/layer/data/*.bin"))
            )
            time.sleep(0.02)

    events: list[TransferEvent] = []
    with FakeRegistry() as fake:
        serve(fake, src, built.manifest_bytes, [built.manifest.config.digest, layer.digest])
        blob_route(fake, layer.digest).pace = hold_at_half
        result = pull(dst, f"{fake.host}/x/app:1", api_options(tmp_path), listener=events.append)

    assert extracted_at_half[:1] == ["00.bin"]
    assert result.digest == built.manifest_digest
    assert dst.has_blob(layer.digest) and dst.has_layer(diff_id)
    assert (Path(dst.layer_path(diff_id)) / "data/11.bin").read_bytes() == files["data/11.bin"]
    assert_nothing_left(dst)
    steps = [e.status for e in events if e.id == layer.digest.short]
    # One step at a time on the layer's line, in Docker's order.
    firsts = [s for i, s in enumerate(steps) if s not in steps[:i]]
    assert firsts == [
        "Pulling fs layer",
        "Downloading",
        "Verifying Checksum",
        "Download complete",
        "Extracting",
        "Pull complete",
    ]


def tar_gz(entries: list[tuple[str, bytes]]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), 1_700_000_000
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), compresslevel=1)


def image_of_blob(store: Store, blob: bytes, diff_id: Digest) -> tuple[bytes, Descriptor, Digest]:
    """An image whose one layer is `blob` as given (stored in `store`): its manifest, the
    layer's descriptor and the config's digest."""
    layer = Descriptor(mt.OCI_LAYER_GZIP, store.put_blob(blob), len(blob))
    configs: list[Digest] = []

    def config(data: bytes) -> Descriptor:
        configs.append(store.put_blob(data))
        return Descriptor(mt.OCI_CONFIG, configs[0], len(data))

    _, manifest = image_documents([(layer, diff_id)], config)
    return manifest, layer, configs[0]


def test_a_layer_refused_mid_stream_keeps_its_verified_blob(tmp_path: Path) -> None:
    """The unpacker gives up at `../evil`, long before the download ends: the download goes on
    without it, the blob is verified and stored (as a pull before streaming did), the error is
    the refused entry, and no layer appears."""
    entries = [("big.bin", os.urandom(6 * MIB)), ("../evil", b"x"), ("tail.bin", os.urandom(MIB))]
    blob = tar_gz(entries)
    raw = gzip.decompress(blob)
    src = Store.open(tmp_path / "src")
    manifest, layer, config = image_of_blob(src, blob, Digest.sha256_of(raw))
    dst = Store.open(tmp_path / "b")
    with FakeRegistry() as fake:
        serve(fake, src, manifest, [config, layer.digest])
        with pytest.raises(LayerError) as err:
            pull(dst, f"{fake.host}/x/app:1", api_options(tmp_path))
    assert "../evil" in str(err.value) and "refused" in str(err.value)
    assert dst.has_blob(layer.digest)
    assert not os.listdir(dst.layout.layers)
    assert_nothing_left(dst)


def test_a_blob_corrupted_mid_stream_is_a_digest_mismatch(tmp_path: Path) -> None:
    """Flipped bytes in the middle break the gzip stream there (the unpacker stops first);
    the pull still reports what is wrong with the blob, and keeps nothing of it."""
    files = {f"data/{i}.bin": os.urandom(MIB) for i in range(8)}
    src = Store.open(tmp_path / "src")
    built = build_image(src, [files])
    layer = built.layers[0]
    dst = Store.open(tmp_path / "b")
    with FakeRegistry() as fake:
        serve(fake, src, built.manifest_bytes, [built.manifest.config.digest, layer.digest])
        route = blob_route(fake, layer.digest)
        body = bytearray(route.body)
        body[len(body) // 3 : len(body) // 3 + 64] = bytes(64)
        route.body = bytes(body)
        with pytest.raises(RegistryDigestMismatch) as err:
            pull(dst, f"{fake.host}/x/app:1", api_options(tmp_path))
    assert layer.digest.short in str(err.value) and "digest mismatch" in str(err.value)
    assert not dst.has_blob(layer.digest)
    assert not os.listdir(dst.layout.layers)
    assert_nothing_left(dst)
