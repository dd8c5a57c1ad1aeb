"""`pycore save` / `pycore load` through the CLI: round trips in every format keep ids, digests
and tags; what pycore writes is schema-valid; Docker's legacy archive shape loads; malformed
archives fail with one line, a non-zero exit and an unchanged store."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from pycore.store.store import Store
from tests.conftest import RunPycore
from tests.helpers import schemas
from tests.helpers.images import BuiltImage, build_image

pytestmark = pytest.mark.root  # unpacking layers chowns entries

LAYER_A = {"etc/os-release": "NAME=test\n", "bin/hello": "#!/bin/sh\necho hi\n"}
LAYER_B = {"srv/data.txt": "payload\n", "srv/sub": None}


def _cli(root: Path) -> Callable[..., subprocess.CompletedProcess[bytes]]:
    """The CLI in bytes mode on another store root (save writes binary to stdout)."""

    def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [sys.executable, "-m", "pycore", "--root", str(root), *args],
            input=stdin,
            capture_output=True,
            check=False,
            timeout=120,
        )

    return run


@pytest.fixture
def built(store_root: Path) -> BuiltImage:
    store = Store.open(store_root)
    return build_image(store, [LAYER_A, LAYER_B], names=("app:1", "app:latest"))


def _index(root: Path) -> list[dict[str, object]]:
    path = root / "images" / "index.json"
    if not path.exists():
        return []
    images = json.loads(path.read_text())["images"]
    assert isinstance(images, list)
    return images


def _store_snapshot(root: Path) -> tuple[list[dict[str, object]], list[str], list[str]]:
    blobs = sorted(p.name for p in (root / "blobs" / "sha256").iterdir()) if root.exists() else []
    layers = sorted(p.name for p in (root / "layers").iterdir()) if root.exists() else []
    return _index(root), blobs, layers


def _assert_one_line_error(proc: subprocess.CompletedProcess[bytes], fragment: str) -> None:
    err = proc.stderr.decode()
    assert proc.returncode != 0, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("pycore: ")
    assert fragment in lines[0], lines[0]


# -- round trips -----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["docker-archive", "oci-archive", "oci-dir"])
def test_round_trip_keeps_ids_digests_and_tags(
    built: BuiltImage, pycore: RunPycore, tmp_path: Path, fmt: str
) -> None:
    out = tmp_path / ("out" if fmt == "oci-dir" else "out.tar")
    saved = pycore("save", "--format", fmt, "-o", str(out), "app:1", "app")
    assert saved.returncode == 0, saved.stderr
    fresh = tmp_path / "fresh"
    loaded = _cli(fresh)("load", "-i", str(out))
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.decode().splitlines() == [
        "Loaded image: app:1",
        "Loaded image: app:latest",
    ]
    [record] = _index(fresh)
    assert record["manifest"] == str(built.manifest_digest)
    assert record["config"] == str(built.id)
    assert record["names"] == ["docker.io/library/app:1", "docker.io/library/app:latest"]
    for diff_id in built.diff_ids:
        assert (fresh / "layers" / diff_id.hex).is_dir()
    assert (fresh / "layers" / built.diff_ids[1].hex / "srv" / "data.txt").read_text() == (
        "payload\n"
    )


def test_save_to_stdout_and_load_gzip_from_stdin(
    built: BuiltImage, store_root: Path, tmp_path: Path
) -> None:
    saved = _cli(store_root)("save", "app:1")
    assert saved.returncode == 0, saved.stderr
    fresh = tmp_path / "fresh"
    loaded = _cli(fresh)("load", "-q", stdin=gzip.compress(saved.stdout))
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.decode() == "Loaded image: app:1\n"
    assert _index(fresh)[0]["manifest"] == str(built.manifest_digest)


def test_save_by_id_is_untagged(built: BuiltImage, store_root: Path, tmp_path: Path) -> None:
    saved = _cli(store_root)("save", built.id.short)
    assert saved.returncode == 0, saved.stderr
    fresh = tmp_path / "fresh"
    loaded = _cli(fresh)("image", "load", stdin=saved.stdout)
    assert loaded.stdout.decode() == f"Loaded image ID: {built.id}\n"
    assert _index(fresh)[0]["names"] == []


def test_save_is_deterministic(built: BuiltImage, store_root: Path) -> None:
    first = _cli(store_root)("save", "app:1").stdout
    second = _cli(store_root)("save", "app:1").stdout
    assert hashlib.sha256(first).digest() == hashlib.sha256(second).digest()


def test_written_documents_validate_against_the_oci_schemas(
    built: BuiltImage, pycore: RunPycore, tmp_path: Path
) -> None:
    out = tmp_path / "layout"
    assert pycore("save", "--format", "oci-dir", "-o", str(out), "app:1").returncode == 0
    schemas.validate(schemas.LAYOUT, (out / "oci-layout").read_bytes())
    index = json.loads((out / "index.json").read_bytes())
    schemas.validate(schemas.INDEX, index)
    for entry in index["manifests"]:
        schemas.validate(schemas.DESCRIPTOR, entry)
        blob = (out / "blobs" / "sha256" / entry["digest"].split(":")[1]).read_bytes()
        schemas.validate(schemas.MANIFEST, blob)
        manifest = json.loads(blob)
        config = out / "blobs" / "sha256" / manifest["config"]["digest"].split(":")[1]
        schemas.validate(schemas.CONFIG, config.read_bytes())
    for path in (out / "blobs" / "sha256").iterdir():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == path.name


def test_docker_archive_has_manifest_json_and_repositories(
    built: BuiltImage, pycore: RunPycore, tmp_path: Path
) -> None:
    out = tmp_path / "out.tar"
    assert pycore("save", "-o", str(out), "app:1").returncode == 0
    with tarfile.open(out) as tar:
        names = tar.getnames()
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
        repositories = json.load(tar.extractfile("repositories"))  # type: ignore[arg-type]
    assert {"manifest.json", "repositories", "index.json", "oci-layout"} <= set(names)
    assert manifest[0]["Config"] == f"blobs/sha256/{built.id.hex}"
    assert manifest[0]["RepoTags"] == ["docker.io/library/app:1"]
    assert all(f"blobs/sha256/{x.digest.hex}" in names for x in built.layers)
    assert repositories == {"docker.io/library/app": {"1": built.layers[-1].digest.hex}}


def test_save_refuses_a_terminal_and_unknown_images(
    built: BuiltImage, pycore: RunPycore, tmp_path: Path
) -> None:
    missing = pycore("save", "-o", str(tmp_path / "x.tar"), "nope:1")
    assert missing.returncode != 0
    assert "No such image" in missing.stderr
    assert not (tmp_path / "x.tar").exists()
    assert not list(tmp_path.glob(".x.tar.tmp-*"))


# -- Docker's legacy shape ---------------------------------------------------------------------


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def _layer_tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            _add(tar, name, data)
    return buf.getvalue()


def _legacy_archive(*, tamper: bool = False) -> tuple[bytes, str]:
    """A `docker save` archive as Docker before 25 wrote it: `<id>/layer.tar`, `<hex>.json`,
    and a second image whose layer.tar is a symlink to the first's."""
    layer = _layer_tar({"etc/motd": b"legacy\n"})
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Cmd": ["sh"]},
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        }
    ).encode()
    config_hex = hashlib.sha256(config).hexdigest()
    v1 = "1" * 64
    v2 = "2" * 64
    manifest = [
        {"Config": f"{config_hex}.json", "RepoTags": ["legacy:1"], "Layers": [f"{v1}/layer.tar"]},
        {"Config": f"{config_hex}.json", "RepoTags": ["legacy:2"], "Layers": [f"{v2}/layer.tar"]},
    ]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        _add(tar, f"{v1}/VERSION", b"1.0")
        _add(tar, f"{v1}/layer.tar", layer + (b"x" if tamper else b""))
        link = tarfile.TarInfo(f"{v2}/layer.tar")
        link.type = tarfile.SYMTYPE
        link.linkname = f"../{v1}/layer.tar"
        tar.addfile(link)
        _add(tar, f"{config_hex}.json", config)
        _add(tar, "manifest.json", json.dumps(manifest).encode())
        _add(tar, "repositories", b"{}")
    return buf.getvalue(), config_hex


def test_legacy_docker_archive_loads_with_its_image_id(tmp_path: Path) -> None:
    data, config_hex = _legacy_archive()
    proc = _cli(tmp_path / "root")("load", stdin=data)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.decode().splitlines() == ["Loaded image: legacy:1", "Loaded image: legacy:2"]
    [record] = _index(tmp_path / "root")
    assert record["config"] == f"sha256:{config_hex}"
    assert set(record["names"]) == {"docker.io/library/legacy:1", "docker.io/library/legacy:2"}


# -- malformed archives --------------------------------------------------------------------------


def _malformed(kind: str) -> bytes:
    good, _ = _legacy_archive()
    if kind == "not-a-tar":
        return b"this is not a tar archive\n" * 50
    if kind == "truncated":
        return good[: len(good) // 2]
    if kind == "digest-mismatch":
        return _legacy_archive(tamper=True)[0]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        if kind == "no-manifest":
            _add(tar, "repositories", b"{}")
        elif kind == "bad-json":
            _add(tar, "manifest.json", b"[{not json")
        elif kind == "missing-blob":
            _add(
                tar,
                "manifest.json",
                json.dumps([{"Config": "a" * 64 + ".json", "Layers": []}]).encode(),
            )
        elif kind == "traversal":
            _add(tar, "../../../tmp/pycore-evil", b"boom")
            _add(tar, "manifest.json", b"[]")
        elif kind == "absolute":
            _add(tar, "/tmp/pycore-evil", b"boom")
        elif kind == "oci-blob-mismatch":
            blob = b'{"schemaVersion":2}'
            digest = "sha256:" + "0" * 64
            index = {
                "schemaVersion": 2,
                "manifests": [
                    {
                        "mediaType": "application/vnd.oci.image.manifest.v1+json",
                        "digest": digest,
                        "size": len(blob),
                    }
                ],
            }
            _add(tar, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
            _add(tar, "index.json", json.dumps(index).encode())
            _add(tar, "blobs/sha256/" + "0" * 64, blob)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("kind", "fragment"),
    [
        ("not-a-tar", "truncated or corrupt archive"),
        ("truncated", "truncated or corrupt archive"),
        ("no-manifest", "not an image archive"),
        ("bad-json", "not valid JSON"),
        ("missing-blob", "is missing from the archive"),
        ("digest-mismatch", "digest mismatch"),
        ("traversal", "'..' in a name refused"),
        ("absolute", "absolute or malformed name refused"),
        ("oci-blob-mismatch", "digest mismatch"),
    ],
)
def test_malformed_archives_fail_cleanly(
    built: BuiltImage, store_root: Path, kind: str, fragment: str
) -> None:
    before = _store_snapshot(store_root)
    proc = _cli(store_root)("load", stdin=_malformed(kind))
    _assert_one_line_error(proc, fragment)
    assert _store_snapshot(store_root) == before
    assert not Path("/tmp/pycore-evil").exists()
    assert not [p for p in (store_root / "tmp").iterdir() if not p.name.startswith(".")]


def test_compressed_layer_with_a_wrong_diff_id_leaves_the_store_unchanged(
    built: BuiltImage, store_root: Path
) -> None:
    """Only unpacking finds this one, after the blobs are in the store: they are rolled back."""
    layer = gzip.compress(_layer_tar({"etc/motd": b"x\n"}), mtime=0)
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "5" * 64]},
        }
    ).encode()
    config_hex = hashlib.sha256(config).hexdigest()
    layer_hex = hashlib.sha256(layer).hexdigest()
    manifest = [{"Config": f"{config_hex}.json", "Layers": [f"blobs/sha256/{layer_hex}"]}]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        _add(tar, f"blobs/sha256/{layer_hex}", layer)
        _add(tar, f"{config_hex}.json", config)
        _add(tar, "manifest.json", json.dumps(manifest).encode())
    before = _store_snapshot(store_root)
    proc = _cli(store_root)("load", stdin=buf.getvalue())
    _assert_one_line_error(proc, "diff_id")
    assert _store_snapshot(store_root) == before


def test_load_from_a_missing_file_or_a_terminal(pycore: RunPycore, tmp_path: Path) -> None:
    proc = pycore("load", "-i", str(tmp_path / "absent.tar"))
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
