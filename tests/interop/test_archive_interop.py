"""Archives across tools: what pycore saves is read by skopeo, umoci and podman, and what
skopeo and podman write loads in pycore with the same image id."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from pycore.store.store import Store
from tests.helpers.images import BuiltImage, build_image

pytestmark = [pytest.mark.interop, pytest.mark.root]

LAYERS = [{"etc/os-release": "NAME=interop\n"}, {"srv/app.txt": "v1\n"}]


def _run(*argv: str, timeout: int = 180) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(argv)}: {proc.stderr}"
    return proc


def _pycore(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return _run(sys.executable, "-m", "pycore", "--root", str(root), *args)


def _index(root: Path) -> list[dict[str, object]]:
    images = json.loads((root / "images" / "index.json").read_text())["images"]
    assert isinstance(images, list)
    return images


@pytest.fixture
def built(store_root: Path) -> BuiltImage:
    return build_image(Store.open(store_root), LAYERS, names=("app:1",))


@pytest.fixture
def saved(built: BuiltImage, store_root: Path, tmp_path: Path) -> Path:
    out = tmp_path / "pycore.tar"
    _pycore(store_root, "save", "-o", str(out), "app:1")
    return out


@pytest.mark.needs("skopeo")
def test_skopeo_inspects_a_pycore_docker_archive(built: BuiltImage, saved: Path) -> None:
    info = json.loads(_run("skopeo", "inspect", f"docker-archive:{saved}").stdout)
    assert info["Architecture"] == "amd64"
    assert len(info["Layers"]) == 2
    raw = _run("skopeo", "inspect", "--raw", "--config", f"docker-archive:{saved}").stdout
    assert "sha256:" + hashlib.sha256(raw.encode()).hexdigest() == str(built.id)


@pytest.mark.needs("skopeo")
def test_skopeo_copies_a_pycore_save_to_oci_which_pycore_loads(
    built: BuiltImage, saved: Path, tmp_path: Path
) -> None:
    layout = tmp_path / "skopeo-oci"
    _run("skopeo", "copy", f"docker-archive:{saved}", f"oci:{layout}:app:1")
    fresh = tmp_path / "fresh"
    out = _pycore(fresh, "load", "-i", str(layout))
    assert out.stdout == "Loaded image: app:1\n"
    [record] = _index(fresh)
    assert record["config"] == str(built.id)
    assert record["names"] == ["docker.io/library/app:1"]


@pytest.mark.needs("skopeo")
def test_skopeo_oci_archive_and_docker_archive_load_in_pycore(
    built: BuiltImage, store_root: Path, tmp_path: Path
) -> None:
    layout = tmp_path / "pycore-oci"
    _pycore(store_root, "save", "--format", "oci-dir", "-o", str(layout), "app:1")
    src = f"oci:{layout}:docker.io/library/app:1"
    docker_tar = tmp_path / "skopeo-docker.tar"
    oci_tar = tmp_path / "skopeo-oci.tar"
    _run("skopeo", "copy", src, f"docker-archive:{docker_tar}:app:1")
    _run("skopeo", "copy", src, f"oci-archive:{oci_tar}:docker.io/library/app:2")
    for archive, name in ((docker_tar, "app:1"), (oci_tar, "app:2")):
        fresh = tmp_path / f"fresh-{archive.stem}"
        assert _pycore(fresh, "load", "-i", str(archive)).stdout == f"Loaded image: {name}\n"
        [record] = _index(fresh)
        assert record["config"] == str(built.id)
        layers = sorted(p.name for p in (fresh / "layers").iterdir())
        assert layers == sorted(d.hex for d in built.diff_ids)


@pytest.mark.needs("umoci")
def test_umoci_reads_a_pycore_layout(built: BuiltImage, store_root: Path, tmp_path: Path) -> None:
    layout = tmp_path / "layout"
    _pycore(store_root, "save", "--format", "oci-dir", "-o", str(layout), "app:1")
    tags = _run("umoci", "ls", "--layout", str(layout)).stdout.split()
    assert tags == ["docker.io/library/app:1"]
    bundle = tmp_path / "bundle"
    _run("umoci", "unpack", "--image", f"{layout}:docker.io/library/app:1", str(bundle))
    assert (bundle / "rootfs" / "srv" / "app.txt").read_text() == "v1\n"


@pytest.fixture
def podman() -> Iterator[list[str]]:
    """podman on private storage in a temp dir (vfs: no overlay mounts to leak), reset after.
    The dir is short: podman refuses a runroot longer than 50 characters."""
    state = Path(tempfile.mkdtemp(prefix="pycore-podman-", dir="/tmp"))
    base = [
        "podman",
        "--root",
        str(state / "root"),
        "--runroot",
        str(state / "run"),
        "--storage-driver",
        "vfs",
        "--cgroup-manager",
        "cgroupfs",
    ]
    try:
        yield base
    finally:
        subprocess.run([*base, "system", "reset", "-f"], capture_output=True, check=False)
        shutil.rmtree(state, ignore_errors=True)


@pytest.mark.needs("podman")
def test_podman_loads_a_pycore_save_and_pycore_loads_podmans(
    built: BuiltImage, saved: Path, podman: list[str], tmp_path: Path
) -> None:
    out = _run(*podman, "load", "-i", str(saved))
    assert "docker.io/library/app:1" in out.stdout
    images = json.loads(_run(*podman, "images", "--format", "json").stdout)
    assert [img["Id"] for img in images] == [built.id.hex]
    back = tmp_path / "podman.tar"
    _run(*podman, "save", "--format", "docker-archive", "-o", str(back), "app:1")
    fresh = tmp_path / "fresh"
    assert _pycore(fresh, "load", "-i", str(back)).stdout == "Loaded image: app:1\n"
    assert _index(fresh)[0]["config"] == str(built.id)
