"""Unit tests of pycore.store.index: the image index value and its file."""

from __future__ import annotations

from pathlib import Path

import pytest

from pycore.digest import Digest
from pycore.errors import StoreError
from pycore.store import index
from pycore.store.index import ImageIndex, ImageRecord


def d(c: str) -> Digest:
    return Digest("sha256", c * 64)


A = ImageRecord(d("a"), d("1"), ("docker.io/library/x:1", "docker.io/library/x:2"), "t")
B = ImageRecord(d("b"), d("2"), ("docker.io/library/y:latest",), "t")


def test_lookup_by_manifest_and_name() -> None:
    idx = ImageIndex((A, B))
    assert idx.by_manifest(d("b")) == B
    assert idx.by_name("docker.io/library/x:2") == A
    assert idx.by_name("x:2") is None
    assert idx.by_manifest(d("c")) is None


def test_with_image_moves_names() -> None:
    idx = ImageIndex((A, B)).with_image(
        ImageRecord(d("b"), d("2"), ("docker.io/library/y:latest", "docker.io/library/x:1"), "t")
    )
    a = idx.by_manifest(d("a"))
    assert a is not None and a.names == ("docker.io/library/x:2",)
    assert idx.by_name("docker.io/library/x:1") == idx.by_manifest(d("b"))
    assert len(idx.images) == 2


def test_untag_and_without() -> None:
    idx = ImageIndex((A, B)).untag("docker.io/library/x:1")
    a = idx.by_manifest(d("a"))
    assert a is not None and a.names == ("docker.io/library/x:2",)
    assert ImageIndex((A, B)).without(d("a")).images == (B,)


def test_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "images" / "index.json"
    assert index.read(path) == ImageIndex()
    index.write(path, ImageIndex((A, B)))
    assert index.read(path) == ImageIndex((A, B))
    assert not [p for p in path.parent.iterdir() if p.name != "index.json"]


@pytest.mark.parametrize("content", [b"{", b"[]", b'{"images": [{"manifest": "x"}]}'])
def test_corrupt_file_is_a_store_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "index.json"
    path.write_bytes(content)
    with pytest.raises(StoreError, match="system check"):
        index.read(path)
