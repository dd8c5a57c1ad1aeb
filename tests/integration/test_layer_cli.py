"""`pycore layer pack|unpack` as a subprocess: exit codes, output, one-line errors."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from tests.conftest import RunPycore

pytestmark = pytest.mark.root


def _tree(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    (src / "a").mkdir(parents=True)
    (src / "a/f").write_text("hello")
    return src


def test_pack_then_unpack(pycore: RunPycore, tmp_path: Path) -> None:
    src = _tree(tmp_path)
    blob = tmp_path / "l.tgz"
    packed = pycore("layer", "pack", str(src), str(blob), "--format", "json")
    assert packed.returncode == 0, packed.stderr
    d = json.loads(packed.stdout)
    assert d["compression"] == "gzip" and d["entries"] == 2
    args = ["--digest", d["digest"], "--diff-id", d["diff_id"], "--size", str(d["size"])]
    out = pycore("layer", "unpack", str(blob), str(tmp_path / "dest"), *args, "--format", "flat")
    assert out.returncode == 0, out.stderr
    assert f"digest:      {d['digest']}" in out.stdout
    assert out.stderr == ""  # no progress when stderr is not a terminal
    assert (tmp_path / "dest/a/f").read_text() == "hello"


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--digest", "sha256:" + "0" * 64], "digest mismatch: expected sha256:000"),
        (["--digest", "nope"], "invalid digest 'nope'"),
        (["--size", "1"], "size mismatch"),
    ],
)
def test_unpack_errors_are_one_line(
    pycore: RunPycore, tmp_path: Path, args: list[str], needle: str
) -> None:
    blob = tmp_path / "l.tgz"
    assert pycore("layer", "pack", str(_tree(tmp_path)), str(blob)).returncode == 0
    r = pycore("layer", "unpack", str(blob), str(tmp_path / "d"), *args)
    assert r.returncode == 125
    assert r.stderr.count("\n") == 1 and needle in r.stderr and "Traceback" not in r.stderr


def test_malicious_and_missing_blobs(pycore: RunPycore, tmp_path: Path) -> None:
    hdr = bytearray(512)
    hdr[0:8] = b"../evil\0"
    hdr[100:108] = b"0000644\0"
    hdr[124:136] = b"00000000000\0"
    hdr[156] = ord("0")
    hdr[257:263] = b"ustar\0"
    hdr[148:156] = b" " * 8
    hdr[148:155] = f"{sum(hdr):06o}\0".encode()
    (tmp_path / "evil.tgz").write_bytes(gzip.compress(bytes(hdr) + bytes(1024)))
    r = pycore("layer", "unpack", str(tmp_path / "evil.tgz"), str(tmp_path / "d"))
    assert r.returncode == 125
    assert r.stderr.startswith("pycore: unpack ") and 'entry "../evil": refused' in r.stderr
    assert not (tmp_path / "evil").exists()
    r = pycore("layer", "unpack", str(tmp_path / "missing"), str(tmp_path / "d"))
    assert r.returncode == 125 and r.stderr.count("\n") == 1 and "No such file" in r.stderr
    blob = tmp_path / "l.tgz"
    blob.write_bytes(b"x")
    r = pycore("layer", "pack", str(_tree(tmp_path)), str(blob))
    assert r.returncode == 125 and "File exists" in r.stderr and r.stderr.count("\n") == 1
