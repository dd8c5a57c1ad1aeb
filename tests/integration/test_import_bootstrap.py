"""`pycore import` (a rootfs tarball as a one-layer image, with --change) and
`pycore image bootstrap` (busybox from busybox-static; debian by debootstrap, once per session)."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from pycore.bootstrap import bootstrap
from pycore.digest import Digest
from pycore.store.store import Store
from tests.conftest import RunPycore
from tests.helpers import schemas

pytestmark = pytest.mark.root


def _rootfs_tar() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in {"./etc/motd": b"imported\n", "./bin/tool": b"#!/bin/sh\n"}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _image(root: Path, name: str) -> tuple[dict[str, object], dict[str, object]]:
    """(manifest, config) of the image named `name` in the store at `root`."""
    index = json.loads((root / "images" / "index.json").read_text())
    [record] = [r for r in index["images"] if name in r["names"]]
    blobs = root / "blobs" / "sha256"
    manifest = json.loads((blobs / Digest.parse(record["manifest"]).hex).read_bytes())
    config = json.loads((blobs / Digest.parse(record["config"]).hex).read_bytes())
    return manifest, config


def _layer_dir(root: Path, config: dict[str, object]) -> Path:
    rootfs = config["rootfs"]
    assert isinstance(rootfs, dict)
    [diff_id] = rootfs["diff_ids"]
    return root / "layers" / Digest.parse(diff_id).hex


# -- import ----------------------------------------------------------------------------------


def test_import_with_changes(pycore: RunPycore, store_root: Path, tmp_path: Path) -> None:
    tarball = tmp_path / "rootfs.tar"
    tarball.write_bytes(_rootfs_tar())
    proc = pycore(
        "import",
        str(tarball),
        "imported:1",
        "-c",
        "CMD /bin/tool --flag",
        "--change",
        'ENTRYPOINT ["/init"]',
        "-c",
        "ENV A=1 B=2",
        "-c",
        "EXPOSE 8080",
        "-c",
        "LABEL org.example=yes",
        "-c",
        "WORKDIR /srv",
        "-c",
        "USER nobody",
        "-c",
        "VOLUME /data",
        "-c",
        "STOPSIGNAL SIGINT",
        "-m",
        "from a test",
    )
    assert proc.returncode == 0, proc.stderr
    manifest, config = _image(store_root, "docker.io/library/imported:1")
    assert proc.stdout.strip() == manifest["config"]["digest"]  # type: ignore[index]
    schemas.validate(schemas.MANIFEST, manifest)
    schemas.validate(schemas.CONFIG, config)
    assert config["config"] == {
        "Cmd": ["/bin/sh", "-c", "/bin/tool --flag"],
        "Entrypoint": ["/init"],
        "Env": ["A=1", "B=2"],
        "ExposedPorts": {"8080/tcp": {}},
        "Labels": {"org.example": "yes"},
        "WorkingDir": "/srv",
        "User": "nobody",
        "Volumes": {"/data": {}},
        "StopSignal": "SIGINT",
    }
    assert config["history"][0]["comment"] == "from a test"  # type: ignore[index]
    # The tarball is the layer, byte for byte: its digest is its diff_id.
    layer = manifest["layers"][0]  # type: ignore[index]
    assert layer["mediaType"] == "application/vnd.oci.image.layer.v1.tar"
    assert layer["digest"] == config["rootfs"]["diff_ids"][0]  # type: ignore[index]
    assert (_layer_dir(store_root, config) / "etc" / "motd").read_text() == "imported\n"


def test_import_gzip_from_stdin_untagged(pycore: RunPycore, store_root: Path) -> None:
    proc = subprocess.run(
        ["python3", "-m", "pycore", "--root", str(store_root), "import", "-"],
        input=gzip.compress(_rootfs_tar()),
        capture_output=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    index = json.loads((store_root / "images" / "index.json").read_text())
    assert index["images"][0]["names"] == []
    assert index["images"][0]["config"] == proc.stdout.decode().strip()


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["-c", "RUN echo"], "unsupported instruction"),
        (["-c", "EXPOSE http"], "invalid port"),
    ],
)
def test_import_errors(
    pycore: RunPycore, tmp_path: Path, store_root: Path, args: list[str], fragment: str
) -> None:
    tarball = tmp_path / "rootfs.tar"
    tarball.write_bytes(_rootfs_tar())
    proc = pycore("import", str(tarball), "x:1", *args)
    assert proc.returncode != 0
    assert fragment in proc.stderr
    assert "Traceback" not in proc.stderr


def test_import_refuses_a_non_tar(pycore: RunPycore, tmp_path: Path, store_root: Path) -> None:
    junk = tmp_path / "junk"
    junk.write_bytes(b"not a tarball\n" * 100)
    proc = pycore("import", str(junk), "x:1")
    assert proc.returncode != 0
    assert proc.stderr.strip().endswith("not a tar archive (truncated header)") or (
        "not a tar archive" in proc.stderr
    )
    assert not list((store_root / "blobs" / "sha256").iterdir())


# -- bootstrap busybox -----------------------------------------------------------------------

needs_busybox = pytest.mark.needs("/bin/busybox")


@needs_busybox
def test_bootstrap_busybox(pycore: RunPycore, store_root: Path) -> None:
    proc = pycore("image", "bootstrap", "busybox")
    assert proc.returncode == 0, proc.stderr
    manifest, config = _image(store_root, "docker.io/library/busybox:latest")
    schemas.validate(schemas.MANIFEST, manifest)
    schemas.validate(schemas.CONFIG, config)
    assert config["config"] == {
        "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        "Cmd": ["sh"],
    }
    assert config["architecture"] == "amd64" or os.uname().machine != "x86_64"
    layer = _layer_dir(store_root, config)
    assert os.readlink(layer / "bin" / "sh") == "busybox"
    assert os.readlink(layer / "usr" / "bin" / "env") == "../../bin/busybox"
    assert (layer / "tmp").stat().st_mode & 0o7777 == 0o1777
    assert "root:x:0:0" in (layer / "etc" / "passwd").read_text()
    assert "nobody" in (layer / "etc" / "group").read_text()
    for d in ("proc", "sys", "dev", "root", "home", "var"):
        assert (layer / d).is_dir()
    out = subprocess.run(
        ["chroot", str(layer), "/bin/sh", "-c", "echo ok"], capture_output=True, text=True
    )
    assert out.stdout == "ok\n"


@needs_busybox
def test_bootstrap_busybox_is_reproducible(tmp_path: Path) -> None:
    one = bootstrap(Store.open(tmp_path / "a"), "busybox", source_date_epoch=1_700_000_000)
    two = bootstrap(Store.open(tmp_path / "b"), "busybox", source_date_epoch=1_700_000_000)
    assert one.manifest == two.manifest
    assert one.config == two.config


@needs_busybox
def test_source_date_epoch_pins_bootstrap_and_import(tmp_path: Path) -> None:
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1700000000"}
    tarball = tmp_path / "rootfs.tar"
    tarball.write_bytes(_rootfs_tar())
    ids = []
    for name in ("a", "b"):
        root = str(tmp_path / name)
        cmds = (["image", "bootstrap", "busybox"], ["import", str(tarball), "x:1"])
        ids.append(
            [
                subprocess.run(
                    ["python3", "-m", "pycore", "--root", root, *cmd],
                    env=env,
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
                for cmd in cmds
            ]
        )
    assert ids[0] == ids[1]
    _, config = _image(tmp_path / "a", "docker.io/library/busybox:latest")
    assert config["created"] == "2023-11-14T22:13:20Z"


@needs_busybox
def test_bootstrap_with_tag_and_unknown_target(pycore: RunPycore, store_root: Path) -> None:
    assert pycore("image", "bootstrap", "busybox", "--tag", "local/bb:1").returncode == 0
    _image(store_root, "docker.io/local/bb:1")
    proc = pycore("image", "bootstrap", "alpine")
    assert proc.returncode != 0
    assert "choose busybox or debian" in proc.stderr


# -- bootstrap debian (slow: debootstrap from the host's mirror, once per session) -----------


@pytest.fixture(scope="module")
def debian_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("debian") / "root"
    proc = subprocess.run(
        ["python3", "-m", "pycore", "--root", str(root), "image", "bootstrap", "debian:bookworm"],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr
    return root


@pytest.mark.needs("debootstrap")
def test_bootstrap_debian(debian_root: Path) -> None:
    manifest, config = _image(debian_root, "docker.io/library/debian:bookworm")
    schemas.validate(schemas.MANIFEST, manifest)
    schemas.validate(schemas.CONFIG, config)
    assert config["config"]["Cmd"] == ["bash"]  # type: ignore[index]
    layer = _layer_dir(debian_root, config)
    assert (layer / "etc" / "debian_version").read_text().startswith("12.")
    assert not list((layer / "var" / "lib" / "apt" / "lists").glob("*_Packages"))
    assert not list((layer / "var" / "cache" / "apt").glob("*.bin"))
    assert not list((layer / "var" / "cache" / "apt" / "archives").glob("*.deb"))
    assert not list((layer / "dev").iterdir())
    assert not (layer / "etc" / "hostname").exists()
    out = subprocess.run(
        ["chroot", str(layer), "/bin/bash", "-c", "dpkg -s bash | head -1"],
        capture_output=True,
        text=True,
    )
    assert out.stdout.strip() == "Package: bash"
    # nothing left behind in the store's scratch space
    assert not [p for p in (debian_root / "tmp").iterdir() if not p.name.startswith(".")]
