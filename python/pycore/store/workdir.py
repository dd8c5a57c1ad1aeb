"""Scratch directories under `<root>/tmp`, each held by a flock while in use.

Long work (downloads, unpacking, packing) happens in one of these, outside the store lock.
A directory whose lock is free belongs to a dead command (`kill -9`) and is swept.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

_LOCK_SUFFIX = ".lock"


@contextlib.contextmanager
def workdir(tmp: Path, prefix: str) -> Iterator[Path]:
    """A fresh directory under `tmp`, removed when the block ends (or swept if we die)."""
    name = f"{prefix}-{os.getpid()}-{os.urandom(6).hex()}"
    lock_path = tmp / (name + _LOCK_SUFFIX)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        path = tmp / name
        path.mkdir(mode=0o700)
        try:
            yield path
        finally:
            remove_tree(path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            lock_path.unlink()
        os.close(fd)


def sweep(tmp: Path) -> int:
    """Remove scratch directories whose owner is gone; returns how many were removed."""
    removed = 0
    try:
        names = os.listdir(tmp)
    except FileNotFoundError:
        return 0
    for name in names:
        if name.endswith(_LOCK_SUFFIX):
            removed += _sweep_locked(tmp, name)
        elif not (tmp / (name + _LOCK_SUFFIX)).exists() and _is_stale_unlocked(tmp / name):
            remove_tree(tmp / name)
            removed += 1
    return removed


def _sweep_locked(tmp: Path, lock_name: str) -> int:
    lock_path = tmp / lock_name
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return 0
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return 0  # its owner is alive
        remove_tree(tmp / lock_name[: -len(_LOCK_SUFFIX)])
        with contextlib.suppress(FileNotFoundError):
            lock_path.unlink()
        return 1
    finally:
        os.close(fd)


def _is_stale_unlocked(path: Path) -> bool:
    # A directory without its lock file: its owner died between unlinking the lock and
    # removing the directory, or it is trash renamed here for removal (`trash-<pid>-...`).
    parts = path.name.split("-")
    if len(parts) >= 3 and parts[1].isdigit():
        return not Path(f"/proc/{parts[1]}").exists()
    return True


def remove_tree(path: Path) -> None:
    """Remove a file or directory tree, never following symlinks; missing is fine.

    Layers may hold read-only directories, so write permission is restored on the way.
    """

    def onexc(func: object, p: str, exc: BaseException) -> None:
        if isinstance(exc, FileNotFoundError):
            return
        parent = os.path.dirname(p)
        with contextlib.suppress(OSError):
            os.chmod(parent, 0o700)
        with contextlib.suppress(OSError):
            if os.path.isdir(p) and not os.path.islink(p):
                os.chmod(p, 0o700)
                import shutil  # here: it imports bz2 and lzma

                shutil.rmtree(p)
            else:
                os.unlink(p)

    if path.is_symlink() or path.is_file():
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return
    if path.exists():
        import shutil

        shutil.rmtree(path, onerror=lambda f, p, info: onexc(f, p, info[1]))
