"""Where a saved archive goes: a tar stream (file or stdout) or a directory. Entries get fixed
metadata (root-owned, mtime 0), so saving the same images twice gives the same bytes."""

from __future__ import annotations

import io
import os
import shutil
import tarfile
from pathlib import Path
from typing import Protocol


class Sink(Protocol):
    def add_dir(self, name: str) -> None: ...

    def add_bytes(self, name: str, data: bytes) -> None: ...

    def add_file(self, name: str, path: Path) -> None: ...


def _info(name: str, kind: bytes, mode: int, size: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.size = size
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


class TarSink:
    """Adds entries to a tar opened in stream mode (`w|`: never seeks, so stdout works)."""

    def __init__(self, tar: tarfile.TarFile) -> None:
        self._tar = tar

    def add_dir(self, name: str) -> None:
        self._tar.addfile(_info(name.rstrip("/") + "/", tarfile.DIRTYPE, 0o755))

    def add_bytes(self, name: str, data: bytes) -> None:
        self._tar.addfile(_info(name, tarfile.REGTYPE, 0o644, len(data)), io.BytesIO(data))

    def add_file(self, name: str, path: Path) -> None:
        with path.open("rb") as f:
            size = os.fstat(f.fileno()).st_size
            self._tar.addfile(_info(name, tarfile.REGTYPE, 0o644, size), f)


class DirSink:
    """Writes entries as files under `root` (names are ours, never from an archive)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def add_dir(self, name: str) -> None:
        (self.root / name).mkdir(parents=True, exist_ok=True)

    def add_bytes(self, name: str, data: bytes) -> None:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def add_file(self, name: str, path: Path) -> None:
        target = self.root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        # A copy, not a hard link: the store's blobs must not change if the user edits ours.
        shutil.copyfile(path, target)
        os.chmod(target, 0o644)
