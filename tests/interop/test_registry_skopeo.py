"""Registry interop on 127.0.0.1: what pycore pushes, skopeo and podman read; what skopeo
pushes (from OCI layouts the test writes, one a multi-platform index), pycore pulls."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from pycore.digest import Digest
from pycore.oci import mediatypes as mt
from pycore.oci.models import Descriptor, ImageConfig, Index, Manifest, Platform
from pycore.store.store import Store
from tests.helpers.images import BuiltImage, build_image
from tests.helpers.registry import RegistryServer, cli_env

pytestmark = pytest.mark.interop

SKOPEO = shutil.which("skopeo")
PODMAN = shutil.which("podman")
needs_skopeo = pytest.mark.needs("skopeo")


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[RegistryServer]:
    with RegistryServer(tmp_path / "registry") as reg:
        yield reg


def pycore(tmp: Path, root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pycore", "--root", str(root), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        stdin=subprocess.DEVNULL,
        env=cli_env(tmp),
    )


def skopeo(*args: str) -> subprocess.CompletedProcess[str]:
    assert SKOPEO is not None
    res = subprocess.run(
        [SKOPEO, "--insecure-policy", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert res.returncode == 0, res.stderr
    return res


def write_oci_layout(store: Store, out: Path, top: bytes, media_type: str, tag: str) -> None:
    """An OCI image layout holding every blob of `store` and `top` under `tag`."""
    blobs = out / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    for digest in store.blobs():
        shutil.copyfile(store.blob_path(digest), blobs / digest.hex)
    digest = Digest.sha256_of(top)
    (blobs / digest.hex).write_bytes(top)
    (out / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    desc = Descriptor(
        media_type, digest, len(top), annotations={"org.opencontainers.image.ref.name": tag}
    )
    (out / "index.json").write_bytes(Index((desc,)).to_bytes())


@needs_skopeo
def test_skopeo_reads_what_pycore_pushed(tmp_path: Path, registry: RegistryServer) -> None:
    name = f"{registry.host}/interop/from-pycore:1"
    built = build_image(Store.open(tmp_path / "a"), [{"a": "1"}, {"b": "2"}], names=(name,))
    res = pycore(tmp_path, tmp_path / "a", "push", name)
    assert res.returncode == 0, res.stderr

    info = json.loads(skopeo("inspect", "--tls-verify=false", f"docker://{name}").stdout)
    assert info["Digest"] == str(built.manifest_digest)
    assert info["Layers"] == [str(x.digest) for x in built.layers]

    out = tmp_path / "oci"
    skopeo("copy", "--src-tls-verify=false", f"docker://{name}", f"oci:{out}:1")
    index = Index.parse((out / "index.json").read_bytes())
    assert index.manifests[0].digest == built.manifest_digest
    for layer in built.layers:
        assert (out / "blobs/sha256" / layer.digest.hex).stat().st_size == layer.size


@needs_skopeo
def test_pycore_pulls_what_skopeo_pushed(tmp_path: Path, registry: RegistryServer) -> None:
    scratch = Store.open(tmp_path / "scratch")
    built = build_image(scratch, [{"etc/issue": "skopeo\n"}, {"usr/bin/x": b"x" * 4096}])
    layout = tmp_path / "layout"
    write_oci_layout(scratch, layout, built.manifest_bytes, mt.OCI_MANIFEST, "v1")
    name = f"{registry.host}/interop/from-skopeo:v1"
    skopeo("copy", "--dest-tls-verify=false", f"oci:{layout}:v1", f"docker://{name}")

    res = pycore(tmp_path, tmp_path / "b", "pull", name)
    assert res.returncode == 0, res.stderr
    record = Store.open(tmp_path / "b").read_index().by_name(name)
    assert record is not None and record.manifest == built.manifest_digest
    top = Path(Store.open(tmp_path / "b").layer_path(built.diff_ids[1]))
    assert (top / "usr/bin/x").stat().st_size == 4096


def _arch_image(store: Store, arch: str) -> BuiltImage:
    return build_image(store, [{f"etc/arch-{arch}": arch}], architecture=arch)


@needs_skopeo
def test_multi_platform_index_pushed_by_skopeo(tmp_path: Path, registry: RegistryServer) -> None:
    scratch = Store.open(tmp_path / "scratch")
    images = {"amd64": _arch_image(scratch, "amd64"), "arm64": _arch_image(scratch, "arm64")}
    index = Index(
        tuple(
            Descriptor(
                mt.OCI_MANIFEST,
                img.manifest_digest,
                len(img.manifest_bytes),
                platform=Platform("linux", arch),
            )
            for arch, img in images.items()
        )
    ).to_bytes()
    layout = tmp_path / "layout"
    write_oci_layout(scratch, layout, index, mt.OCI_INDEX, "multi")
    name = f"{registry.host}/interop/multi:1"
    skopeo("copy", "--all", "--dest-tls-verify=false", f"oci:{layout}:multi", f"docker://{name}")

    for arch, img in images.items():
        root = tmp_path / f"pull-{arch}"
        res = pycore(tmp_path, root, "pull", "--platform", f"linux/{arch}", name)
        assert res.returncode == 0, res.stderr
        assert f"Digest: {Digest.sha256_of(index)}" in res.stdout
        store = Store.open(root)
        record = store.read_index().by_name(name)
        assert record is not None and record.manifest == img.manifest_digest
        manifest = Manifest.parse(store.read_blob(record.manifest))
        assert ImageConfig.parse(store.read_blob(manifest.config.digest)).architecture == arch


@pytest.mark.needs("podman")
def test_podman_pulls_what_pycore_pushed(tmp_path: Path, registry: RegistryServer) -> None:
    assert PODMAN is not None
    name = f"{registry.host}/interop/for-podman:1"
    built = build_image(Store.open(tmp_path / "a"), [{"etc/podman": "yes\n"}], names=(name,))
    assert pycore(tmp_path, tmp_path / "a", "push", name).returncode == 0
    # podman refuses a runroot longer than 50 characters: a short private dir under /tmp.
    storage = Path(tempfile.mkdtemp(prefix="pcreg-", dir="/tmp"))
    base = [PODMAN, "--root", str(storage / "root"), "--runroot", str(storage / "run"),
            "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs",
            "--events-backend", "none"]  # fmt: skip
    try:
        res = subprocess.run(
            [*base, "pull", "--tls-verify=false", name],
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        assert res.returncode == 0, res.stderr
        res = subprocess.run(
            [*base, "image", "inspect", "--format", "{{.Digest}}", name],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert res.stdout.strip() == str(built.manifest_digest)
    finally:
        # vfs layers may hold read-only directories: make them writable, then remove all.
        subprocess.run(["chmod", "-R", "u+w", str(storage)], check=False, capture_output=True)
        shutil.rmtree(storage, ignore_errors=True)
