"""Reading a container's log (Docker's json-file lines, written by its monitor): `--since`
and `--until` (RFC 3339 times, Unix timestamps or durations before now), `--tail`, and
following the log until the container exits."""

from __future__ import annotations

import json
import os
import re
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime

from pycore.errors import UsageError
from pycore.structs import struct

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


@struct(frozen=True, slots=True)
class LogEntry:
    stream: str
    time: str
    text: str

    @property
    def epoch(self) -> float:
        return rfc3339_epoch(self.time)


def rfc3339_epoch(text: str) -> float:
    """Seconds since the epoch of an RFC 3339 time with up to nanoseconds ("...Z")."""
    main, _, frac = text.rstrip("Z").partition(".")
    t = datetime.fromisoformat(main).replace(tzinfo=UTC).timestamp()
    return t + (float(f"0.{frac}") if frac.isdigit() else 0.0)


def parse_time(text: str, now: float | None = None) -> float:
    """Docker's `--since`/`--until` value as epoch seconds: a Unix timestamp (`1700000000.5`),
    an RFC 3339 date or time (`2024-01-02`, `2024-01-02T03:04:05Z`, with an offset), or a
    Go duration counted back from now (`10m`, `1h30m`, `2.5s`)."""
    now = time.time() if now is None else now
    text = text.strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    if text and _DURATION.sub("", text) == "":
        return now - sum(float(n) * _UNIT[u] for n, u in _DURATION.findall(text))
    try:
        frac = 0.0
        m = re.fullmatch(r"(.*T\d\d:\d\d:\d\d)\.(\d+)(.*)", text)
        if m:
            text, frac = m.group(1) + m.group(3), float(f"0.{m.group(2)}")
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as e:
        raise UsageError(f"invalid time or duration: {text!r}") from e
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp() + frac


def parse_tail(text: str) -> int | None:
    """`--tail`: a number of lines, or `all` (None)."""
    if text == "all":
        return None
    try:
        n = int(text)
    except ValueError as e:
        raise UsageError(f"invalid value for --tail: {text!r}") from e
    return None if n < 0 else n


def _decode(line: bytes) -> LogEntry | None:
    try:
        e = json.loads(line)
        return LogEntry(e["stream"], e["time"], e["log"])
    except (ValueError, KeyError, TypeError):
        return None


def _window(
    entries: Iterable[LogEntry], since: float | None, until: float | None
) -> Iterator[LogEntry]:
    for e in entries:
        if since is None and until is None:
            yield e
            continue
        try:
            t = e.epoch
        except ValueError:
            continue
        if since is not None and t < since:
            continue
        if until is not None and t > until:
            return
        yield e


def read(
    path: str | os.PathLike[str],
    *,
    since: float | None = None,
    until: float | None = None,
    tail: int | None = None,
    follow: Callable[[], bool] | None = None,
    poll: float = 0.05,
) -> Iterator[LogEntry]:
    """The entries of the log at `path`, oldest first, within [since, until], the last `tail`
    of them; with `follow` (a "still running?" check), new entries as they are written until
    the container has exited and the log is drained (or `until` has passed)."""
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed by the with below
    except FileNotFoundError:
        return
    with f:
        entries = (e for line in f if line.endswith(b"\n") and (e := _decode(line)))
        first = _window(entries, since, until)
        if tail is not None:
            first = iter(deque(first, maxlen=tail)) if tail else iter(())
        yield from first
        if follow is None:
            return
        # Reading on from where the first pass ended (a partial last line is re-read).
        pending = b""
        while True:
            running = follow()
            chunk = f.read()
            if chunk:
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    e = _decode(line)
                    if e is None:
                        continue
                    if until is not None and e.epoch > until:
                        return
                    if since is None or e.epoch >= since:
                        yield e
                continue
            if not running:
                return
            if until is not None and time.time() > until:
                return
            time.sleep(poll)
