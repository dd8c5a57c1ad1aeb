"""Scratch directories under `<root>/tmp`, each held by a flock while in use.

Long work (downloads, unpacking, packing) happens in one of these, outside the store lock.
A directory whose lock is free belongs to a dead command (`kill -9`) and is swept.
"""

from __future__ import annotations

import fcntl
import os
from stat import S_ISDIR

TYPE_CHECKING = False  # not typing's: importing typing costs every CLI start
if TYPE_CHECKING:
    from pathlib import Path
    from types import TracebackType

_LOCK_SUFFIX = ".lock"


class workdir:
    """A fresh directory under `tmp` (a `pathlib.Path`), removed when the block ends (or swept
    if we die). A class, not a contextlib generator, so that importing this module (the run
    path sweeps `tmp/`) loads neither contextlib nor pathlib; image work that uses a workdir
    loads pathlib then."""

    __slots__ = ("_fd", "_lock_path", "_path", "_prefix", "_tmp")

    def __init__(self, tmp: str | os.PathLike[str], prefix: str) -> None:
        self._tmp = os.fspath(tmp)
        self._prefix = prefix
        self._fd = -1
        self._lock_path = self._path = ""

    def __enter__(self) -> Path:
        from pathlib import Path

        name = f"{self._prefix}-{os.getpid()}-{os.urandom(6).hex()}"
        self._lock_path = f"{self._tmp}/{name}{_LOCK_SUFFIX}"
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._path = f"{self._tmp}/{name}"
            os.mkdir(self._path, 0o700)
        except BaseException:
            self._release(fd)
            raise
        self._fd = fd
        return Path(self._path)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            remove_tree(self._path)
        finally:
            self._release(self._fd)

    def _release(self, fd: int) -> None:
        try:
            os.unlink(self._lock_path)
        except FileNotFoundError:
            pass
        os.close(fd)


def sweep(tmp: str | os.PathLike[str]) -> int:
    """Remove scratch directories whose owner is gone; returns how many were removed."""
    tmp = os.fspath(tmp)
    removed = 0
    try:
        names = os.listdir(tmp)
    except FileNotFoundError:
        return 0
    for name in names:
        if name.endswith(_LOCK_SUFFIX):
            removed += _sweep_locked(tmp, name)
        elif (
            os.path.lexists(f"{tmp}/{name}")  # not already swept with its lock, just now
            and not os.path.exists(f"{tmp}/{name}{_LOCK_SUFFIX}")
            and _is_stale_unlocked(name)
        ):
            remove_tree(f"{tmp}/{name}")
            removed += 1
    return removed


def _sweep_locked(tmp: str, lock_name: str) -> int:
    lock_path = f"{tmp}/{lock_name}"
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return 0
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return 0  # its owner is alive
        remove_tree(f"{tmp}/{lock_name[: -len(_LOCK_SUFFIX)]}")
        try:
            os.unlink(lock_path)
        except FileNotFoundError:
            pass
        return 1
    finally:
        os.close(fd)


def _is_stale_unlocked(name: str) -> bool:
    # A directory without its lock file: its owner died between unlinking the lock and
    # removing the directory, or it is trash renamed here for removal (`trash-<pid>-...`).
    parts = name.split("-")
    if len(parts) >= 3 and parts[1].isdigit():
        return not os.path.exists(f"/proc/{parts[1]}")
    return True


def remove_tree(path: str | os.PathLike[str]) -> None:
    """Remove a file or directory tree, never following symlinks; missing is fine.

    Layers may hold read-only directories, so write permission is restored on the way.
    """

    def onexc(func: object, p: str, exc: BaseException) -> None:
        if isinstance(exc, FileNotFoundError):
            return
        parent = os.path.dirname(p)
        try:
            os.chmod(parent, 0o700)
        except OSError:
            pass
        try:
            if os.path.isdir(p) and not os.path.islink(p):
                os.chmod(p, 0o700)
                import shutil  # here: it imports bz2 and lzma

                shutil.rmtree(p)
            else:
                os.unlink(p)
        except OSError:
            pass

    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not S_ISDIR(st.st_mode):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        return
    import shutil

    shutil.rmtree(path, onerror=lambda f, p, info: onexc(f, p, info[1]))
