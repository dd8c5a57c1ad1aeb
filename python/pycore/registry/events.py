"""What pull and push report while they work: one small frozen event per change, in Docker's
words ("Downloading", "Pull complete", "Layer already exists"), for `pycore.ui.transfer` or
any API listener. Listeners are called from worker threads and must be thread-safe."""

from __future__ import annotations

from collections.abc import Callable

from pycore.structs import struct

# Per-blob states, in the order a blob goes through them.
WAITING = "Waiting"
PULLING = "Pulling fs layer"
DOWNLOADING = "Downloading"
VERIFYING = "Verifying Checksum"
DOWNLOADED = "Download complete"
EXTRACTING = "Extracting"
PULLED = "Pull complete"
EXISTS = "Already exists"
PREPARING = "Preparing"
PUSHING = "Pushing"
PUSHED = "Pushed"
PUSH_EXISTS = "Layer already exists"
MOUNTED = "Mounted from"  # followed by the source repository

# States that are progress of a running step (bytes so far), not a new step.
BYTE_STATES = frozenset({DOWNLOADING, EXTRACTING, PUSHING})


@struct(frozen=True, slots=True)
class TransferEvent:
    """One step of a pull or push. `id` is the blob's short hex (12 characters), or "" for a
    message about the whole image; `current`/`total` are bytes when known."""

    id: str
    status: str
    current: int | None = None
    total: int | None = None

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"status": self.status}
        if self.id:
            out["id"] = self.id
        if self.current is not None:
            out["current"] = self.current
        if self.total is not None:
            out["total"] = self.total
        return out


Listener = Callable[[TransferEvent], None]


def ignore(_event: TransferEvent) -> None:
    """The listener API users get by default."""
