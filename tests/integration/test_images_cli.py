"""The image commands through the real `pycore` CLI, each test with its own `--root`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from pycore.store import index
from pycore.store.store import Store
from tests.conftest import RunPycore
from tests.helpers.images import BuiltImage, build_image

BASE = {"bin/sh": "#!shell\n", "etc/os-release": "ID=test\n"}


@pytest.fixture
def store(store_root: Path) -> Store:
    return Store.open(store_root)


def app(store: Store, name: str, content: str = "app") -> BuiltImage:
    return build_image(store, [BASE, {"app/file": content}], names=(name,))


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def fails(result: subprocess.CompletedProcess[str], code: int | None = None) -> str:
    """The one-line error of a failed command (no traceback)."""
    assert result.returncode != 0, result.stdout
    if code is not None:
        assert result.returncode == code
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("pycore: ")
    return lines[0]


# -- images ----------------------------------------------------------------------------------


def test_images_table(store: Store, pycore: RunPycore) -> None:
    a = app(store, "ubuntu:22.04", "u")
    build_image(store, [{"x": "dangling"}])
    lines = ok(pycore("images")).splitlines()
    assert lines[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert rows["ubuntu"][1:3] == ["22.04", a.id.short]
    assert "ago" in lines[1]
    assert rows["<none>"][1] == "<none>"
    assert ok(pycore("image", "ls")) == "\n".join(lines) + "\n"


def test_images_quiet_digests_no_trunc_and_filters(store: Store, pycore: RunPycore) -> None:
    a = app(store, "ubuntu:22.04", "u")
    b = app(store, "foo/bar:1", "f")
    ok(pycore("tag", "ubuntu:22.04", "ubuntu:latest"))
    quiet = ok(pycore("images", "-q")).split()
    assert sorted(quiet) == sorted([a.id.short, b.id.short])  # one line per image
    assert ok(pycore("images", "-q", "--no-trunc", "foo/bar")).split() == [str(b.id)]
    assert ok(pycore("images", "-q", "ubuntu:latest")).split() == [a.id.short]
    assert ok(pycore("images", "-q", "--filter", "reference=foo/*")).split() == [b.id.short]
    assert ok(pycore("images", "-q", "--filter", "dangling=true")) == ""
    header = ok(pycore("images", "--digests")).splitlines()[0].split()
    assert header[:3] == ["REPOSITORY", "TAG", "DIGEST"]
    assert str(a.manifest_digest) in ok(pycore("images", "--digests"))
    assert "DIGEST" not in ok(pycore("images"))
    assert fails(pycore("images", "--filter", "bogus")).startswith("pycore: bad filter")


def test_images_json(store: Store, pycore: RunPycore) -> None:
    a = app(store, "ubuntu:22.04", "u")
    rows = [json.loads(x) for x in ok(pycore("images", "--format", "json")).splitlines()]
    assert len(rows) == 1
    row = rows[0]
    assert (row["Repository"], row["Tag"], row["ID"]) == ("ubuntu", "22.04", a.id.short)
    assert row["Digest"] == str(a.manifest_digest)
    assert row["SizeBytes"] == sum(x.size for x in a.layers)
    assert row["CreatedAt"].startswith("2024-01-02 03:04:05")
    assert row["CreatedSince"].endswith("ago")


def test_images_on_a_fresh_root_prints_the_header(pycore: RunPycore) -> None:
    assert ok(pycore("images")).split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]


# -- inspect / tag / rmi ---------------------------------------------------------------------


def test_image_inspect(store: Store, pycore: RunPycore) -> None:
    a = app(store, "web:1")
    docs = json.loads(ok(pycore("image", "inspect", "web:1", a.id.hex[:8])))
    assert [d["Id"] for d in docs] == [str(a.id), str(a.id)]
    assert docs[0]["RepoTags"] == ["web:1"]
    assert docs[0]["RootFS"]["Layers"] == [str(x) for x in a.diff_ids]
    result = pycore("image", "inspect", "web:1", "missing")
    assert result.returncode == 1
    assert len(json.loads(result.stdout)) == 1
    assert result.stderr.strip() == "pycore: No such image: missing:latest"


def test_tag_and_rmi(store: Store, pycore: RunPycore) -> None:
    a = app(store, "a:1", "a")
    b = app(store, "b:1", "b")
    ok(pycore("tag", "a:1", "localhost:5000/a:2"))
    tags = json.loads(ok(pycore("image", "inspect", "a:1")))[0]["RepoTags"]
    assert tags == ["a:1", "localhost:5000/a:2"]
    assert ok(pycore("rmi", "a:1")) == "Untagged: a:1\n"
    out = ok(pycore("image", "rm", "localhost:5000/a:2")).splitlines()
    assert out[:2] == ["Untagged: localhost:5000/a:2", f"Deleted: {a.id}"]
    assert f"Deleted: {a.diff_ids[1]}" in out
    assert f"Deleted: {a.diff_ids[0]}" not in out  # shared with b
    assert Store.open(store.layout.root).has_layer(b.diff_ids[0])
    assert ok(pycore("images", "-q")).split() == [b.id.short]
    assert ok(pycore("system", "check")).startswith("No problems found")


def test_rmi_force_and_errors(store: Store, pycore: RunPycore) -> None:
    a = app(store, "a:1")
    ok(pycore("tag", "a:1", "other:1"))
    line = fails(pycore("rmi", a.id.short), code=1)
    assert "must be forced" in line
    out = ok(pycore("rmi", "-f", a.id.short))
    assert f"Deleted: {a.id}" in out
    assert fails(pycore("rmi", "nope"), code=1) == "pycore: No such image: nope:latest"
    assert "must be lowercase" in fails(pycore("rmi", "Nope"))
    assert "must be lowercase" in fails(pycore("tag", "x", "Bad"))
    assert fails(pycore("tag", "nope", "x")) == "pycore: No such image: nope:latest"
    assert "ambiguous" not in fails(pycore("image", "inspect", "nope"))


def test_rmi_several_continues_after_an_error(store: Store, pycore: RunPycore) -> None:
    app(store, "a:1", "a")
    app(store, "b:1", "b")
    result = pycore("rmi", "a:1", "missing", "b:1")
    assert result.returncode == 1
    assert "Untagged: a:1" in result.stdout and "Untagged: b:1" in result.stdout
    assert result.stderr.strip() == "pycore: No such image: missing:latest"


# -- prune / df / check ----------------------------------------------------------------------


def test_image_prune(store: Store, pycore: RunPycore) -> None:
    keep = app(store, "keep:1", "k")
    loose = build_image(store, [{"only": "loose"}])
    out = ok(pycore("image", "prune"))
    assert out.splitlines()[0] == "Deleted Images:"
    assert f"Deleted: {loose.id}" in out
    assert out.splitlines()[-1].startswith("Total reclaimed space: ")
    assert out.splitlines()[-1] != "Total reclaimed space: 0B"
    assert ok(pycore("image", "prune", "-f")) == "Total reclaimed space: 0B\n"
    out = ok(pycore("image", "prune", "-a", "-f"))
    assert "Untagged: keep:1" in out and f"Deleted: {keep.id}" in out
    assert ok(pycore("images", "-qa")) == ""


def test_system_df(store: Store, pycore: RunPycore) -> None:
    app(store, "a:1")
    lines = ok(pycore("system", "df")).splitlines()
    assert lines[0].split() == ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
    assert lines[1].split()[:3] == ["Images", "1", "0"]
    assert "(100%)" in lines[1]
    assert [line.split()[0] for line in lines[1:]] == ["Images", "Containers", "Local", "Build"]
    rows = [json.loads(x) for x in ok(pycore("system", "df", "--format", "json")).splitlines()]
    assert rows[0]["Type"] == "Images" and rows[0]["TotalCount"] == 1
    assert rows[0]["SizeBytes"] > 0 and rows[0]["ReclaimableBytes"] == rows[0]["SizeBytes"]


def test_system_check_corrupt_blob_missing_layer_and_repair(
    store: Store, pycore: RunPycore
) -> None:
    a = app(store, "a:1", "a")
    b = app(store, "b:1", "b")
    blob = Path(store.layout.blob(a.layers[1].digest))
    os.chmod(blob, 0o644)
    data = bytearray(blob.read_bytes())
    data[10] ^= 0x01
    blob.write_bytes(bytes(data))
    store.remove_layer(b.diff_ids[1])
    result = pycore("system", "check")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "problems found" in result.stderr and "--repair" in result.stderr
    assert "corrupt-blob" in result.stdout and "missing-layer" in result.stdout
    assert "broken-image" in result.stdout
    report = json.loads(pycore("system", "check", "--format", "json").stdout)
    assert report["Ok"] is False
    kinds = {p["Kind"] for p in report["Problems"]}
    assert {"corrupt-blob", "missing-layer", "broken-image"} <= kinds
    out = ok(pycore("system", "check", "--repair"))
    assert "All problems repaired" in out
    report = json.loads(ok(pycore("system", "check", "--format", "json")))
    assert report == {
        "Ok": True,
        "ImagesChecked": 1,
        "BlobsChecked": 4,
        "LayersChecked": 2,
        "Problems": [],
    }
    assert ok(pycore("images", "-q")).split() == [b.id.short]


# -- errors, concurrency, crashes -------------------------------------------------------------


def test_store_errors_are_one_line(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "VERSION").write_text("99\n")
    result = subprocess.run(
        [sys.executable, "-m", "pycore", "--root", str(root), "images"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 125
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().startswith("pycore: store ")


def test_corrupt_index_is_reported_then_repaired(store: Store, pycore: RunPycore) -> None:
    a = app(store, "a:1")
    Path(store.layout.image_index).write_text("garbage")
    assert "system check" in fails(pycore("images"))
    assert "corrupt-index" in pycore("system", "check").stdout
    ok(pycore("system", "check", "--repair"))
    assert ok(pycore("images", "-q")).split() == [a.id.short]


def test_ten_concurrent_tags(store: Store, pycore: RunPycore) -> None:
    a = app(store, "a:1")
    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(lambda i: pycore("tag", "a:1", f"t{i}:v{i}"), range(10)))
    for r in results:
        ok(r)
    idx = index.read(store.layout.image_index)
    (record,) = idx.images
    assert record.config == a.id
    assert sorted(record.names) == sorted(
        ["docker.io/library/a:1"] + [f"docker.io/library/t{i}:v{i}" for i in range(10)]
    )


COMMIT_SLOWLY = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from pycore.store.store import Store
    from tests.helpers.images import build_image

    store = Store.open(Path(sys.argv[1]))
    def slow(desc, n):
        print("unpacking", flush=True)
        time.sleep(60)
    # The native unpacker reports progress every 4 MiB of compressed input.
    tree = {f"f{i}": os.urandom(1 << 20) for i in range(6)}
    build_image(store, [tree], names=("victim:1",), progress=slow)
    """
)


def test_kill_during_commit_leaves_a_usable_store(store: Store, pycore: RunPycore) -> None:
    keep = app(store, "keep:1")
    repo = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-c", COMMIT_SLOWLY, str(store.layout.root)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=repo,
        env={**os.environ, "PYTHONPATH": str(repo)},
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "unpacking"
        assert any(Path(store.layout.tmp).iterdir())  # the unpack scratch dir is there
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    time.sleep(0.1)
    assert ok(pycore("images", "-q")).split() == [keep.id.short]
    leftovers = list(Path(store.layout.tmp).iterdir())
    assert leftovers == [], leftovers
    assert not [p for p in Path(store.layout.layers).iterdir() if p.name.startswith(".")]
    result = pycore("system", "check", "--repair")  # the victim's blobs are orphans
    ok(result)
    assert "victim" not in ok(pycore("images"))
    assert ok(pycore("system", "check")).startswith("No problems found")
