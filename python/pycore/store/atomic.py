"""Atomic writes: a temp name in the same directory, fsync, rename into place."""

from __future__ import annotations

import os
from _thread import get_ident

from pycore import jsonio

TYPE_CHECKING = False  # not typing's: importing typing costs every CLI start
if TYPE_CHECKING:
    from typing import Any


def write_bytes(path: str | os.PathLike[str], data: bytes, mode: int = 0o644) -> None:
    """Replace `path` with `data` so a reader sees the old file or the new, never half."""
    directory, name = os.path.split(os.fspath(path))
    os.makedirs(directory, exist_ok=True)
    # pid and thread: two threads of one process (parallel pulls) may write the same blob.
    tmp = f"{directory}/.{name}.tmp-{os.getpid()}-{get_ident()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def sweep_temps(directory: str | os.PathLike[str]) -> list[str]:
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
            try:
                os.unlink(os.path.join(directory, name))
                removed.append(name)
            except OSError:
                pass
        except PermissionError:
            pass
    return removed


def write_json(
    path: str | os.PathLike[str], value: Any, mode: int = 0o644, *, indent: int | None = None
) -> None:
    """Atomically write `value` as JSON followed by a newline: compact, by json's C encoder
    (several times faster than the indenting one, and loads no `json`), unless `indent`."""
    if indent:
        import json  # the indenting encoder is json's pure-Python one; not on the run path

        text = json.dumps(value, indent=indent)
    else:
        text = jsonio.dumps(value)
    write_bytes(path, (text + "\n").encode(), mode)
