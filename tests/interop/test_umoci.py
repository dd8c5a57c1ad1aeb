"""umoci unpacks a pycore-packed layer into the same tree pycore's own unpack gives."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from pycore import layer

pytestmark = [pytest.mark.root, pytest.mark.interop]


def _blob(layout: Path, data: bytes, media_type: str) -> dict[str, object]:
    digest = hashlib.sha256(data).hexdigest()
    (layout / "blobs/sha256" / digest).write_bytes(data)
    return {"mediaType": media_type, "digest": f"sha256:{digest}", "size": len(data)}


def _layout(layout: Path, blob: Path, diff_id: str) -> None:
    (layout / "blobs/sha256").mkdir(parents=True)
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    config = {
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "config": {},
    }
    cfg = _blob(layout, json.dumps(config).encode(), "application/vnd.oci.image.config.v1+json")
    lyr = _blob(layout, blob.read_bytes(), "application/vnd.oci.image.layer.v1.tar+gzip")
    manifest = {"schemaVersion": 2, "config": cfg, "layers": [lyr]}
    man = _blob(layout, json.dumps(manifest).encode(), "application/vnd.oci.image.manifest.v1+json")
    man["annotations"] = {"org.opencontainers.image.ref.name": "latest"}
    index = {"schemaVersion": 2, "manifests": [man]}
    (layout / "index.json").write_text(json.dumps(index))


def _tree(root: Path) -> dict[str, tuple[object, ...]]:
    out: dict[str, tuple[object, ...]] = {}
    for p in sorted(root.rglob("*")):
        st = p.lstat()
        link = os.readlink(p) if p.is_symlink() else None
        size = st.st_size if stat.S_ISREG(st.st_mode) else 0
        out[str(p.relative_to(root))] = (
            stat.S_IFMT(st.st_mode),
            stat.S_IMODE(st.st_mode),
            size,
            link,
        )
    return out


def _source(src: Path) -> None:
    (src / "usr/bin").mkdir(parents=True)
    (src / "usr/bin/tool").write_bytes(b"#!/bin/sh\n" * 50)
    os.chmod(src / "usr/bin/tool", 0o4755)
    os.symlink("usr/bin", src / "bin")
    os.link(src / "usr/bin/tool", src / "usr/bin/tool2")
    (src / ("deep/" * 30)).mkdir(parents=True)
    (src / ("deep/" * 30) / ("f" * 120)).write_bytes(b"x")
    (src / "etc").mkdir()
    (src / "etc/ro").write_bytes(b"ro")
    os.chmod(src / "etc/ro", 0o400)
    os.mkfifo(src / "fifo")
    os.mknod(src / "null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    with open(src / "sparse", "wb") as fh:
        fh.truncate(10 << 20)
    os.chmod(src / "etc", 0o750)


@pytest.mark.needs("umoci")
def test_umoci_unpack_matches_pycore(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    _source(src)
    blob = tmp_path / "layer.tar.gz"
    packed = layer.pack(src, blob)
    _layout(tmp_path / "oci", blob, packed.diff_id)
    subprocess.run(
        ["umoci", "unpack", "--image", f"{tmp_path / 'oci'}:latest", str(tmp_path / "bundle")],
        check=True,
        capture_output=True,
    )
    ours = tmp_path / "ours"
    layer.unpack(blob, ours, whiteouts="flat", digest=packed.digest, diff_id=packed.diff_id)
    theirs = _tree(tmp_path / "bundle/rootfs")
    assert theirs == _tree(ours)
    assert theirs == _tree(src)
