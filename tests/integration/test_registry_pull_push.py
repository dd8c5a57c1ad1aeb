"""Pull and push against Debian's docker-registry on 127.0.0.1, through the real CLI."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from pycore.digest import Digest
from pycore.image import ImageService
from pycore.oci import mediatypes as mt
from pycore.oci.models import Descriptor, ImageConfig, Index, Manifest, Platform
from pycore.registry import RegistryClient, pull, push
from pycore.store.commit import commit_image
from pycore.store.store import Store
from tests.helpers.images import build_image
from tests.helpers.registry import RegistryServer, api_options, error_line, run_cli

BASE = {"etc/os-release": "ID=test\n", "bin/tool": b"\x7fELF" + b"t" * 5000}


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[RegistryServer]:
    with RegistryServer(tmp_path / "registry") as reg:
        yield reg


def test_push_then_pull_round_trip(tmp_path: Path, registry: RegistryServer) -> None:
    name = f"{registry.host}/test/app:1"
    src = Store.open(tmp_path / "a")
    built = build_image(src, [BASE, {"etc/motd": "hello\n"}], names=(name,))

    res = run_cli(tmp_path, tmp_path / "a", "push", name)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().splitlines()[-1] == name
    assert f"1: digest: {built.manifest_digest} size: {len(built.manifest_bytes)}" in res.stdout

    res = run_cli(tmp_path, tmp_path / "b", "pull", name)
    assert res.returncode == 0, res.stderr
    out = res.stdout.splitlines()
    assert out[-1] == name
    for layer in built.layers:
        assert f"{layer.digest.short}: Pull complete" in out
    assert f"Digest: {built.manifest_digest}" in out

    dst = Store.open(tmp_path / "b")
    record = dst.read_index().by_name(name)
    assert record is not None
    assert record.manifest == built.manifest_digest  # stored exactly as served
    assert dst.read_blob(record.manifest) == built.manifest_bytes
    top = Path(dst.layer_path(built.diff_ids[1]))
    assert (top / "etc/motd").read_text() == "hello\n"
    assert not os.listdir(dst.layout.downloads)  # no partial left behind


def test_pull_twice_and_shared_layers_already_exist(
    tmp_path: Path, registry: RegistryServer
) -> None:
    src = Store.open(tmp_path / "a")
    one = f"{registry.host}/test/one:1"
    two = f"{registry.host}/test/two:1"
    build_image(src, [BASE, {"one": "1"}], names=(one,))
    base_layer = build_image(src, [BASE, {"two": "2"}], names=(two,)).layers[0]
    assert run_cli(tmp_path, tmp_path / "a", "push", one).returncode == 0
    assert run_cli(tmp_path, tmp_path / "a", "push", two).returncode == 0

    assert run_cli(tmp_path, tmp_path / "b", "pull", one).returncode == 0
    res = run_cli(tmp_path, tmp_path / "b", "pull", two)
    assert res.returncode == 0, res.stderr
    assert f"{base_layer.digest.short}: Already exists" in res.stdout
    assert "Status: Downloaded newer image" in res.stdout

    res = run_cli(tmp_path, tmp_path / "b", "pull", two)
    assert res.returncode == 0, res.stderr
    assert "Status: Image is up to date" in res.stdout


def test_pull_and_push_by_digest(tmp_path: Path, registry: RegistryServer) -> None:
    src = Store.open(tmp_path / "a")
    repo = f"{registry.host}/test/pinned"
    built = build_image(src, [BASE], names=(f"{repo}:orig",))
    by_digest = f"{repo}@{built.manifest_digest}"

    res = run_cli(tmp_path, tmp_path / "a", "push", by_digest)
    assert res.returncode == 0, res.stderr
    assert f"digest: {built.manifest_digest}" in res.stdout

    res = run_cli(tmp_path, tmp_path / "b", "pull", by_digest)
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[-1] == by_digest
    dst = Store.open(tmp_path / "b")
    record = dst.read_index().by_manifest(built.manifest_digest)
    assert record is not None and by_digest in record.names  # the repo digest is recorded
    assert ImageService(dst).get(by_digest).manifest_digest == built.manifest_digest

    res = run_cli(tmp_path, tmp_path / "b", "pull", f"{repo}:orig")
    assert res.returncode == 1  # pushed by digest only: no tag on the registry
    assert "not found" in res.stderr


def test_push_skips_existing_blobs_and_mounts_across_repositories(
    tmp_path: Path, registry: RegistryServer
) -> None:
    src = Store.open(tmp_path / "a")
    first = f"{registry.host}/team/first:1"
    second = f"{registry.host}/team/second:1"
    build_image(src, [BASE, {"x": "x"}], names=(first, second))
    opts = api_options(tmp_path)

    result = push(src, first, opts)
    assert (result.uploaded > 0, result.skipped, result.mounted) == (True, 0, 0)
    again = push(src, first, opts)
    assert (again.uploaded, again.skipped) == (0, 3)

    events: list[str] = []
    mounted = push(src, second, opts, listener=lambda e: events.append(e.status))
    assert (mounted.uploaded, mounted.mounted) == (0, 3)
    assert "Mounted from team/first" in events
    assert mounted.digest == result.digest


def test_chunked_push_of_a_big_blob(tmp_path: Path, registry: RegistryServer) -> None:
    src = Store.open(tmp_path / "a")
    name = f"{registry.host}/test/chunky:1"
    built = build_image(src, [{"random.bin": os.urandom(300_000)}], names=(name,))
    opts = api_options(tmp_path)
    chunked = type(opts)(http=opts.http, auth_file=opts.auth_file, chunk_threshold=50_000,
                         chunk_size=64_000)  # fmt: skip
    events: list[tuple[str, int | None]] = []
    push(src, name, chunked, listener=lambda e: events.append((e.status, e.current)))
    assert len([s for s, c in events if s == "Pushing" and c]) >= 4  # several PATCHes

    got = pull(Store.open(tmp_path / "b"), name, opts)
    assert got.digest == built.manifest_digest


def test_docker_schema2_manifest_round_trip(tmp_path: Path, registry: RegistryServer) -> None:
    src = Store.open(tmp_path / "a")
    built = build_image(src, [BASE])
    cfg = built.manifest.config
    docker = Manifest(
        Descriptor(mt.DOCKER_CONFIG, cfg.digest, cfg.size),
        tuple(Descriptor(mt.DOCKER_LAYER_GZIP, x.digest, x.size) for x in built.layers),
        media_type=mt.DOCKER_MANIFEST,
    ).to_bytes()
    name = f"{registry.host}/test/docker:v2"
    commit_image(src, docker, names=(name,))
    opts = api_options(tmp_path)
    pushed = push(src, name, opts)
    got = pull(Store.open(tmp_path / "b"), name, opts)
    assert got.digest == pushed.digest == Digest.sha256_of(docker)


def _platform_image(store: Store, arch: str, variant: str | None) -> tuple[Descriptor, bytes]:
    built = build_image(store, [{f"arch-{arch}": arch}], architecture=arch)
    cfg = ImageConfig.parse(store.read_blob(built.manifest.config.digest))
    assert cfg.architecture == arch
    desc = Descriptor(
        mt.OCI_MANIFEST,
        built.manifest_digest,
        len(built.manifest_bytes),
        platform=Platform("linux", arch, variant),
    )
    return desc, built.manifest_bytes


def test_multi_platform_index(tmp_path: Path, registry: RegistryServer) -> None:
    src = Store.open(tmp_path / "a")
    repo = f"{registry.host}/test/multi"
    entries = [_platform_image(src, "amd64", None), _platform_image(src, "arm64", "v8")]
    opts = api_options(tmp_path)
    for desc, _ in entries:
        push(src, f"{repo}@{desc.digest}", opts)
    attestation = Descriptor(
        mt.OCI_MANIFEST,
        entries[0][0].digest,
        entries[0][0].size,
        platform=Platform("unknown", "unknown"),
    )
    index = Index((attestation, *(d for d, _ in entries))).to_bytes()
    with RegistryClient(registry.host, opts) as client:
        index_digest = client.put_manifest("test/multi", "latest", index, mt.OCI_INDEX)

    res = run_cli(tmp_path, tmp_path / "b", "pull", "--platform", "linux/arm64", f"{repo}:latest")
    assert res.returncode == 0, res.stderr
    assert f"Digest: {index_digest}" in res.stdout
    dst = Store.open(tmp_path / "b")
    record = dst.read_index().by_name(f"{repo}:latest")
    assert record is not None and record.manifest == entries[1][0].digest
    assert dst.read_blob(record.manifest) == entries[1][1]

    res = run_cli(tmp_path, tmp_path / "c", "pull", "--platform", "linux/amd64", f"{repo}:latest")
    assert res.returncode == 0, res.stderr
    record = Store.open(tmp_path / "c").read_index().by_name(f"{repo}:latest")
    assert record is not None and record.manifest == entries[0][0].digest

    res = run_cli(tmp_path, tmp_path / "d", "pull", "--platform", "linux/s390x", f"{repo}:latest")
    line = error_line(res)
    assert "no matching manifest for linux/s390x" in line and registry.host in line

    res = run_cli(tmp_path, tmp_path / "d", "pull", "--platform", "linux", f"{repo}:latest")
    assert res.returncode != 0 and "os/arch" in res.stderr


def test_progress_json_and_quiet(tmp_path: Path, registry: RegistryServer) -> None:
    name = f"{registry.host}/test/json:1"
    built = build_image(Store.open(tmp_path / "a"), [BASE], names=(name,))
    assert run_cli(tmp_path, tmp_path / "a", "push", "-q", name).stdout == name + "\n"

    res = run_cli(tmp_path, tmp_path / "b", "pull", "--progress", "json", name)
    assert res.returncode == 0, res.stderr
    events = [json.loads(line) for line in res.stdout.splitlines()]
    layer = built.layers[0].digest.short
    assert {"id": layer, "status": "Pull complete"} in events
    assert events[-1]["status"] == "done"
    assert events[-1]["digest"] == str(built.manifest_digest)
    assert events[-1]["reference"] == name

    res = run_cli(tmp_path, tmp_path / "c", "pull", "-q", name)
    assert (res.returncode, res.stdout) == (0, name + "\n")


def test_errors_are_one_line_naming_the_registry(tmp_path: Path, registry: RegistryServer) -> None:
    line = error_line(run_cli(tmp_path, tmp_path / "b", "pull", f"{registry.host}/no/such:1"))
    assert registry.host in line and "not found" in line and "unknown" in line

    free = RegistryServer(tmp_path / "unused")  # never started: its port refuses
    line = error_line(run_cli(tmp_path, tmp_path / "b", "pull", f"{free.host}/x:1"))
    assert free.host in line and "connection refused" in line

    line = error_line(run_cli(tmp_path, tmp_path / "b", "push", f"{registry.host}/not/local:1"))
    assert "does not exist locally" in line


def test_ensure_image_policies(tmp_path: Path, registry: RegistryServer) -> None:
    from pycore.errors import ImageNotFound
    from pycore.registry import ensure_image

    name = f"{registry.host}/test/ensure:1"
    built = build_image(Store.open(tmp_path / "a"), [BASE], names=(name,))
    opts = api_options(tmp_path)
    push(Store.open(tmp_path / "a"), name, opts)
    dst = Store.open(tmp_path / "b")

    with pytest.raises(ImageNotFound):
        ensure_image(dst, name, "never", opts)
    events: list[str] = []
    record = ensure_image(dst, name, "missing", opts, listener=lambda e: events.append(e.status))
    assert record.manifest == built.manifest_digest and "Pull complete" in events
    events.clear()
    assert ensure_image(dst, name, "missing", opts, listener=lambda e: events.append(e.status))
    assert events == []  # present: no registry traffic at all
    assert ensure_image(dst, name, "never", opts).manifest == built.manifest_digest
    assert ensure_image(dst, name, "always", opts).manifest == built.manifest_digest


def test_concurrent_pulls_of_one_image_share_the_downloads(
    tmp_path: Path, registry: RegistryServer
) -> None:
    import threading

    name = f"{registry.host}/test/concurrent:1"
    built = build_image(
        Store.open(tmp_path / "a"), [{"a": os.urandom(2 << 20)}, {"b": "b"}], names=(name,)
    )
    opts = api_options(tmp_path)
    push(Store.open(tmp_path / "a"), name, opts)
    dst = Store.open(tmp_path / "b")
    results: list[object] = []

    def one() -> None:
        try:
            results.append(pull(dst, name, opts).downloaded)
        except Exception as e:  # reported below
            results.append(e)

    threads = [threading.Thread(target=one) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert all(isinstance(r, int) for r in results), results
    total = sum(x.size for x in built.layers) + built.manifest.config.size
    assert sum(r for r in results if isinstance(r, int)) <= total  # each blob fetched once
    assert dst.read_index().by_name(name) is not None
    assert not os.listdir(dst.layout.downloads)
