"""Rendering pull and push events (`pycore.registry.events`) the way Docker does.

- `tty`: one line per blob, redrawn in place (state, bytes, bar, rate), at most ten times a
  second; for a terminal (pycore draws it on stderr).
- `plain`: one line per state change, `1a2b3c4d5e6f: Pull complete`, no byte counts.
- `json`: one JSON object per event and line (`{"id": ..., "status": ..., "current": ...,
  "total": ...}`), throttled byte progress included; for programs.
- `quiet`: nothing.
Listeners are called from worker threads, so every view takes its own lock.
"""

from __future__ import annotations

import json
import threading
import time
from typing import IO, Literal

from pycore.registry.events import BYTE_STATES, TransferEvent
from pycore.ui.output import human_size

Mode = Literal["tty", "plain", "json", "quiet"]
_REDRAW_EVERY = 0.1
_BAR = 25


class TransferView:
    """A listener for pull/push events writing to `stream` in `mode`; call `close()` at the
    end so the last state of every line is drawn."""

    def __init__(self, mode: Mode, stream: IO[str]) -> None:
        self.mode = mode
        self._stream = stream
        self._lock = threading.Lock()
        self._rows: dict[str, _Row] = {}
        self._messages_before: list[str] = []
        self._messages_after: list[str] = []
        self._drawn = 0
        self._last_draw = 0.0
        self._last_json: dict[str, float] = {}

    def __call__(self, event: TransferEvent) -> None:
        with self._lock:
            if self.mode == "quiet":
                return
            if self.mode == "json":
                self._json(event)
            elif self.mode == "plain":
                self._plain(event)
            else:
                self._tty(event)

    def close(self) -> None:
        with self._lock:
            if self.mode == "tty":
                self._redraw()

    def message(self, text: str) -> None:
        """A free-standing line (plain and tty) or `{"status": text}` (json)."""
        self(TransferEvent("", text))

    # -- json ------------------------------------------------------------------------------

    def _json(self, event: TransferEvent) -> None:
        if event.status in BYTE_STATES and event.current != event.total:
            now = time.monotonic()
            key = f"{event.id}/{event.status}"
            if now - self._last_json.get(key, 0.0) < 0.5:
                return
            self._last_json[key] = now
        self._stream.write(json.dumps(event.to_json()) + "\n")
        self._stream.flush()

    # -- plain -----------------------------------------------------------------------------

    def _plain(self, event: TransferEvent) -> None:
        if not event.id:
            line = event.status
        else:
            row = self._rows.setdefault(event.id, _Row())
            if event.status == row.status:  # more bytes of the same step: nothing new to say
                return
            row.status = event.status
            line = f"{event.id}: {event.status}"
        self._stream.write(line + "\n")
        self._stream.flush()

    # -- tty -------------------------------------------------------------------------------

    def _tty(self, event: TransferEvent) -> None:
        if not event.id:
            (self._messages_after if self._rows else self._messages_before).append(event.status)
            self._redraw()
            return
        row = self._rows.setdefault(event.id, _Row())
        changed = row.status != event.status
        row.update(event)
        if changed or time.monotonic() - self._last_draw >= _REDRAW_EVERY:
            self._redraw()

    def _redraw(self) -> None:
        lines = [
            *self._messages_before,
            *(f"{k}: {r.line()}" for k, r in self._rows.items()),
            *self._messages_after,
        ]
        out = []
        if self._drawn:
            out.append(f"\x1b[{self._drawn}A")
        out.extend("\r\x1b[2K" + line + "\n" for line in lines)
        self._drawn = len(lines)
        self._last_draw = time.monotonic()
        self._stream.write("".join(out))
        self._stream.flush()


class _Row:
    """The state of one blob's line: status, bytes, and when its byte stream started (rate)."""

    def __init__(self) -> None:
        self.status = ""
        self.current: int | None = None
        self.total: int | None = None
        self._since: tuple[float, int] | None = None
        self._rate = 0.0

    def update(self, event: TransferEvent) -> None:
        if event.status != self.status:
            self._since, self._rate = None, 0.0
        self.status = event.status
        self.current, self.total = event.current, event.total
        if event.status in BYTE_STATES and event.current is not None:
            now = time.monotonic()
            if self._since is None:
                self._since = (now, event.current)
            elif now > self._since[0]:
                self._rate = (event.current - self._since[1]) / (now - self._since[0])

    def line(self) -> str:
        if self.status not in BYTE_STATES or self.current is None:
            return self.status
        if not self.total:
            return f"{self.status} {human_size(self.current)}"
        frac = min(1.0, self.current / self.total)
        filled = int(frac * _BAR)
        bar = "=" * filled + (">" if filled < _BAR else "") + " " * (_BAR - filled - 1)
        rate = f" {human_size(self._rate)}/s" if self._rate > 0 else ""
        return (
            f"{self.status:<11} [{bar}] {human_size(self.current)}/{human_size(self.total)}{rate}"
        )
