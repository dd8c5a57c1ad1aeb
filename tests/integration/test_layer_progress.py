"""pycore.layer.unpack's progress callback: compressed bytes read, reported while the layer
is extracted (not all at the end), at most every 4 MiB."""

from __future__ import annotations

import gzip
import io
import itertools
import os
import tarfile
from pathlib import Path

import pytest

from pycore import layer

pytestmark = pytest.mark.root

MIB = 1 << 20


def four_files() -> bytes:
    """A 16 MiB tar of incompressible files a, b, c, d (so compressed ~ tar size)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name in "abcd":
            data = os.urandom(4 * MIB)
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


@pytest.mark.parametrize("compress", ["gzip", "none"])
def test_progress_reports_while_extracting(tmp_path: Path, compress: str) -> None:
    tar = four_files()
    data = gzip.compress(tar, compresslevel=1) if compress == "gzip" else tar
    blob, dest = tmp_path / "blob", tmp_path / "dest"
    blob.write_bytes(data)
    seen: list[tuple[int, bool]] = []

    def progress(n: int) -> None:
        seen.append((n, (dest / "d").exists()))

    got = layer.unpack(blob, dest, progress=progress)
    assert got.size == len(data)
    counts = [n for n, _ in seen]
    assert len(counts) >= 3, counts
    assert all(b - a >= 4 * MIB for a, b in itertools.pairwise(counts)), counts
    assert 0 < counts[0] < len(data) and counts[-1] <= len(data)
    # The first report comes with the first 4 MiB, long before the last file is written.
    assert not seen[0][1]
    assert (dest / "d").stat().st_size == 4 * MIB
