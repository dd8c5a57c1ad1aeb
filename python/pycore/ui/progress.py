"""TTY-aware progress on stderr: one line per task, redrawn in place at most ten times a second.

When the stream is not a terminal nothing is written at all, so logs and pipes stay clean.
Thread-safe: layers unpack in parallel and report from worker threads.

    progress = Progress.for_stream(sys.stderr)
    task = progress.task("layer 1a2b3c", total=size)
    task.update(done_bytes)          # absolute; task.advance(n) adds
    task.done("Pull complete")
"""

from __future__ import annotations

import threading
import time
from typing import IO

from pycore.ui.output import human_size

_REDRAW_EVERY = 0.1
_BAR = 30


class Task:
    """One line of progress. Create with `Progress.task`."""

    def __init__(self, owner: Progress, name: str, total: int | None) -> None:
        self._owner = owner
        self.name = name
        self.total = total
        self.current = 0
        self.message: str | None = None

    def update(self, current: int) -> None:
        """Set how much is done so far (bytes or items, in the unit of `total`)."""
        self.current = current
        self._owner._changed(force=False)

    def advance(self, n: int = 1) -> None:
        """Add `n` to what is done."""
        with self._owner._lock:
            self.current += n
        self._owner._changed(force=False)

    def done(self, message: str = "Done") -> None:
        """Finish the task; its line shows `message` from now on."""
        self.message = message
        self._owner._changed(force=True)

    def line(self) -> str:
        if self.message is not None:
            return f"{self.name}: {self.message}"
        if not self.total:
            return f"{self.name}: {human_size(self.current)}"
        frac = min(1.0, self.current / self.total)
        filled = int(frac * _BAR)
        bar = "=" * filled + (">" if filled < _BAR else "") + " " * (_BAR - filled - 1)
        return f"{self.name}: [{bar}] {human_size(self.current)}/{human_size(self.total)}"


class Progress:
    """A set of progress lines on one stream; a no-op unless `enabled`."""

    def __init__(self, stream: IO[str] | None, enabled: bool) -> None:
        self._stream = stream
        self.enabled = enabled and stream is not None
        self._tasks: list[Task] = []
        self._drawn = 0
        self._last = 0.0
        self._lock = threading.RLock()

    @classmethod
    def for_stream(cls, stream: IO[str]) -> Progress:
        """Progress that draws on `stream` only when it is a terminal."""
        try:
            tty = stream.isatty()
        except (AttributeError, ValueError):
            tty = False
        return cls(stream, tty)

    @classmethod
    def disabled(cls) -> Progress:
        """Progress that never draws (for API users and tests)."""
        return cls(None, False)

    def task(self, name: str, total: int | None = None) -> Task:
        """Start a new line of progress; `total` None means the size is unknown."""
        t = Task(self, name, total)
        with self._lock:
            self._tasks.append(t)
        self._changed(force=True)
        return t

    def _changed(self, *, force: bool) -> None:
        if not self.enabled:
            return
        with self._lock:
            now = time.monotonic()
            if not force and now - self._last < _REDRAW_EVERY:
                return
            self._last = now
            self._redraw()

    def _redraw(self) -> None:
        assert self._stream is not None
        out = []
        if self._drawn:
            out.append(f"\x1b[{self._drawn}A")  # back to the first line we drew
        for t in self._tasks:
            out.append("\r\x1b[2K" + t.line() + "\n")
        self._drawn = len(self._tasks)
        self._stream.write("".join(out))
        self._stream.flush()
