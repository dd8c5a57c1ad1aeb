"""Faults: a registry killed mid-pull (the next pull resumes with Range), tampered blobs,
manifests that are not JSON, a stalled server, rate limits and transient 5xx answers."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import pytest

from pycore.errors import RegistryUnreachable
from pycore.oci import mediatypes as mt
from pycore.registry import TransferEvent, pull, push
from pycore.store.store import Store
from tests.helpers.fake_registry import FakeRegistry, Reply
from tests.helpers.images import BuiltImage, build_image
from tests.helpers.registry import RegistryServer, api_options, error_line, run_cli

# -- a registry killed in the middle of a pull -----------------------------------------------


def test_pull_resumes_after_the_registry_was_killed(tmp_path: Path) -> None:
    reg = RegistryServer(tmp_path / "registry")
    with reg:
        name = f"{reg.host}/big/app:1"
        src = Store.open(tmp_path / "a")
        # Random bytes do not compress: the layer blob stays ~24 MB.
        built = build_image(src, [{"blob.bin": os.urandom(24 << 20)}], names=(name,))
        opts = api_options(tmp_path, retries=1, backoff=0.05)
        push(src, name, opts)
        layer = built.layers[0]
        dst = Store.open(tmp_path / "b")

        def kill_midway(event: TransferEvent) -> None:
            # Called on the downloading thread as the body starts: while it sleeps the
            # registry fills the socket buffers (a few MB), then dies mid-body.
            if event.id == layer.digest.short and event.status == "Downloading" and reg.proc:
                time.sleep(0.3)
                reg.kill()

        with pytest.raises(RegistryUnreachable) as err:
            pull(dst, name, opts, listener=kill_midway)
        assert reg.host in str(err.value)
        partial = Path(dst.layout.download(layer.digest))
        kept = partial.stat().st_size
        assert 0 < kept < layer.size
        assert not dst.has_blob(layer.digest)

        reg.start()  # same port, same storage
        statuses: list[int] = []
        result = pull(dst, name, opts, listener=lambda e: statuses.append(e.current or 0))
        assert result.downloaded == layer.size - kept  # only the missing tail was fetched
        assert result.digest == built.manifest_digest
        assert dst.has_blob(layer.digest) and not partial.exists()
        assert dst.has_layer(built.diff_ids[0])


def test_a_partial_download_survives_the_tmp_sweep(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "root")
    digest = "ab" * 32
    partial = Path(store.layout.downloads, digest)
    partial.write_bytes(b"half a blob")
    Store.open(tmp_path / "root")  # opening sweeps tmp/: downloads/ is not in it
    assert partial.read_bytes() == b"half a blob"


# -- a small fake registry for faults a real one will not produce ----------------------------


@pytest.fixture
def image(tmp_path: Path) -> BuiltImage:
    return build_image(Store.open(tmp_path / "src"), [{"etc/fake": "fake\n" * 1000}])


def blobs_of(tmp_path: Path, built: BuiltImage) -> dict[str, bytes]:
    src = Store.open(tmp_path / "src")
    digests = [built.manifest.config.digest, *(x.digest for x in built.layers)]
    return {str(d): Path(src.blob_path(d)).read_bytes() for d in digests}


def test_tampered_blob_is_refused(tmp_path: Path, image: BuiltImage) -> None:
    blobs = blobs_of(tmp_path, image)
    layer = str(image.layers[0].digest)
    good = blobs[layer]
    blobs[layer] = good[:-10] + bytes(10)  # same size, other bytes
    with FakeRegistry() as fake:
        fake.serve_image("x/app", "1", image.manifest_bytes, mt.OCI_MANIFEST, blobs)
        res = run_cli(tmp_path, tmp_path / "b", "pull", f"{fake.host}/x/app:1")
    line = error_line(res)
    assert fake.host in line and "digest mismatch" in line and image.layers[0].digest.short in line
    dst = Store.open(tmp_path / "b")
    assert not dst.has_blob(image.layers[0].digest)
    assert not os.listdir(dst.layout.downloads)  # the bad bytes are not kept for a resume
    assert dst.read_index().images == ()


def test_manifest_that_is_not_json(tmp_path: Path) -> None:
    with FakeRegistry() as fake:
        fake.routes["/v2/x/app/manifests/1"] = Reply(
            200, b"<html>oops</html>", {"Content-Type": mt.OCI_MANIFEST}
        )
        line = error_line(run_cli(tmp_path, tmp_path / "b", "pull", f"{fake.host}/x/app:1"))
    assert fake.host in line and "not JSON" in line


def test_schema1_manifest_is_unsupported(tmp_path: Path) -> None:
    body = json.dumps({"schemaVersion": 1, "name": "x/app", "tag": "1", "fsLayers": []}).encode()
    with FakeRegistry() as fake:
        fake.routes["/v2/x/app/manifests/1"] = Reply(
            200, body, {"Content-Type": "application/vnd.docker.distribution.manifest.v1+prettyjws"}
        )
        line = error_line(run_cli(tmp_path, tmp_path / "b", "pull", f"{fake.host}/x/app:1"))
    assert "schema1" in line and "not supported" in line


def test_announced_digest_must_match(tmp_path: Path, image: BuiltImage) -> None:
    with FakeRegistry() as fake:
        fake.serve_image("x/app", "1", image.manifest_bytes, mt.OCI_MANIFEST, {})
        route = fake.routes["/v2/x/app/manifests/1"]
        assert isinstance(route, Reply)
        route.headers["Docker-Content-Digest"] = "sha256:" + "0" * 64
        line = error_line(run_cli(tmp_path, tmp_path / "b", "pull", f"{fake.host}/x/app:1"))
    assert "digest mismatch" in line and fake.host in line


def test_stalled_registry_times_out(tmp_path: Path) -> None:
    with FakeRegistry() as fake:
        fake.routes["/v2/x/app/manifests/1"] = Reply(stall=True)
        start = time.monotonic()
        res = run_cli(
            tmp_path, tmp_path / "b", "pull", f"{fake.host}/x/app:1", PYCORE_REGISTRY_TIMEOUT="1"
        )
        took = time.monotonic() - start
    line = error_line(res)
    assert fake.host in line and "did not answer in time" in line
    assert took < 20


def test_rate_limited(tmp_path: Path) -> None:
    with FakeRegistry() as fake:
        fake.routes["/v2/x/app/manifests/1"] = Reply(429, b"", {"Retry-After": "3600"})
        line = error_line(run_cli(tmp_path, tmp_path / "b", "pull", f"{fake.host}/x/app:1"))
    assert "rate limited" in line and fake.host in line


def test_transient_5xx_answers_are_retried(tmp_path: Path, image: BuiltImage) -> None:
    blobs = blobs_of(tmp_path, image)
    with FakeRegistry() as fake:
        fake.serve_image("x/app", "1", image.manifest_bytes, mt.OCI_MANIFEST, blobs)
        layer_path = f"/v2/x/app/blobs/{image.layers[0].digest}"
        good = fake.routes[layer_path]
        failures = iter([Reply(503), Reply(502)])

        def flaky(method: str, path: str, headers: dict[str, str]) -> Reply:
            nxt = next(failures, None)
            if nxt is not None:
                return nxt
            assert isinstance(good, Reply)
            return good

        fake.routes[layer_path] = flaky
        res = run_cli(tmp_path, tmp_path / "b", "pull", f"{fake.host}/x/app:1")
        assert res.returncode == 0, res.stderr
        gets = [p for m, p, _ in fake.requests if p == layer_path]
        assert len(gets) == 3


def test_resume_uses_range_and_checks_the_whole(tmp_path: Path, image: BuiltImage) -> None:
    """A partial file from an earlier pull is continued with a Range request; the digest is
    checked over the whole file, not just the new part."""
    blobs = blobs_of(tmp_path, image)
    layer = image.layers[0]
    data = blobs[str(layer.digest)]
    half = len(data) // 2
    dst = Store.open(tmp_path / "b")
    Path(dst.layout.download(layer.digest)).write_bytes(data[:half])
    with FakeRegistry() as fake:
        fake.serve_image("x/app", "1", image.manifest_bytes, mt.OCI_MANIFEST, blobs)
        path = f"/v2/x/app/blobs/{layer.digest}"

        def ranged(method: str, p: str, headers: dict[str, str]) -> Reply:
            start = int(headers["Range"].removeprefix("bytes=").rstrip("-"))
            rng = f"bytes {start}-{len(data) - 1}/{len(data)}"
            return Reply(206, data[start:], {"Content-Range": rng})

        fake.routes[path] = ranged
        result = pull(dst, f"{fake.host}/x/app:1", api_options(tmp_path))
    assert result.downloaded == len(data) - half
    assert (
        hashlib.sha256(Path(dst.blob_path(layer.digest)).read_bytes()).hexdigest()
        == layer.digest.hex
    )
