"""Atomic writes: a temp name in the same directory, fsync, rename into place."""

from __future__ import annotations

import contextlib
import json
import os
from _thread import get_ident
from pathlib import Path

TYPE_CHECKING = False  # not typing's: importing typing costs every CLI start
if TYPE_CHECKING:
    from typing import Any


def write_bytes(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Replace `path` with `data` so a reader sees the old file or the new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # pid and thread: two threads of one process (parallel pulls) may write the same blob.
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{get_ident()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def sweep_temps(directory: Path) -> list[str]:
    """Remove the temp files (`.NAME.tmp-PID-TID`) of writers that are dead: writes killed
    midway (readers never see them; this keeps them from piling up). The names removed."""
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    removed = []
    for name in names:
        head, sep, tail = name.rpartition(".tmp-")
        pid = tail.partition("-")[0]
        if not (name.startswith(".") and sep and head and pid.isdigit()):
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            with contextlib.suppress(OSError):
                os.unlink(directory / name)
                removed.append(name)
        except PermissionError:
            pass
    return removed


def write_json(path: Path, value: Any, mode: int = 0o644, *, indent: int | None = 2) -> None:
    """Atomically write `value` as JSON (indented unless `indent` is None: the compact form
    is written by json's C encoder, several times faster) followed by a newline."""
    text = json.dumps(value, indent=indent, separators=(",", ": ") if indent else (",", ":"))
    write_bytes(path, (text + "\n").encode(), mode)
