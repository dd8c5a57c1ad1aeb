"""The store lock: an exclusive `flock` on `<root>/lock` around every change of shared metadata.

Held only for renames and small index rewrites, never across network or unpacking work.
The kernel drops a flock when its holder dies, so `kill -9` never leaves the store locked.
"""

from __future__ import annotations

import fcntl
import os

TYPE_CHECKING = False  # not typing's: importing typing costs every CLI start
if TYPE_CHECKING:
    from types import TracebackType


class locked:
    """Hold the exclusive store lock for the duration of the `with` block. (A class, not a
    contextlib generator: contextlib loads functools and collections into every start.)"""

    __slots__ = ("_fd", "_path")

    def __init__(self, lock_file: str | os.PathLike[str]) -> None:
        self._path = lock_file
        self._fd = -1

    def __enter__(self) -> None:
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        os.close(self._fd)  # closing the last fd releases the flock
