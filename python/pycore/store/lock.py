"""The store lock: an exclusive `flock` on `<root>/lock` around every change of shared metadata.

Held only for renames and small index rewrites, never across network or unpacking work.
The kernel drops a flock when its holder dies, so `kill -9` never leaves the store locked.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def locked(lock_file: Path) -> Iterator[None]:
    """Hold the exclusive store lock for the duration of the `with` block."""
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the last fd releases the flock
