"""pycore.oci.models' JSON edge: documents decode as `json.loads` did (its encodings, its error
messages) and encode to `json.dumps(..., separators=(",", ":"), ensure_ascii=False)`."""

from __future__ import annotations

import json

import pytest

from pycore.digest import Digest
from pycore.oci.models import ImageConfig, InvalidDocument, Manifest, dump_json, load_json

SHA = "sha256:" + "a" * 64
MANIFEST = {
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": SHA, "size": 2},
    "layers": [],
    "annotations": {"title": "café ☕ \u2028"},
}


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-32-le"])
def test_load_json_reads_what_json_reads(encoding: str) -> None:
    data = json.dumps(MANIFEST).encode(encoding)
    assert load_json(data, "manifest") == json.loads(data) == MANIFEST


@pytest.mark.parametrize(
    "data", [b"", b"{", b"{} x", b"\xff\xfe{", b"\xc3(", b'{"a": NaN', b"[1, 2,]"]
)
def test_load_json_errors_are_json_s(data: bytes) -> None:
    try:
        json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        want = f"manifest: not valid JSON ({e})"
    with pytest.raises(InvalidDocument) as info:
        load_json(data, "manifest")
    assert str(info.value) == want


def test_load_json_wants_an_object() -> None:
    with pytest.raises(InvalidDocument, match="expected a JSON object"):
        load_json(b"[1]", "manifest")


def test_dump_json_is_compact_and_keeps_unicode() -> None:
    value = {"b": [1, 2.5, None, True], "a": "é\n☕", "n": {"x": -0.0, "big": 10**20}}
    assert dump_json(value) == json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def test_documents_round_trip() -> None:
    manifest = Manifest.parse(json.dumps(MANIFEST).encode())
    assert manifest.config.digest == Digest.parse(SHA)
    assert Manifest.parse(manifest.to_bytes()) == manifest
    config = ImageConfig.new([Digest.parse(SHA)], architecture="amd64", config={"Env": ["A=é"]})
    assert ImageConfig.parse(config.to_bytes()) == config
