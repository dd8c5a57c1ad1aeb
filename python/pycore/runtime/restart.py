"""Restart policies (`--restart no|on-failure[:N]|always|unless-stopped`): parsed here, carried to
the monitor in the bundle's `org.pycore.restart` annotation, applied by the monitor (it outlives
the CLI). Without a daemon there is no daemon restart: `always` and `unless-stopped` are alike.
`stop`, `kill` and `rm` leave a `stopped` file beside `state.json` so the monitor stops too."""

from __future__ import annotations

from pathlib import Path

from pycore.errors import UsageError
from pycore.structs import struct

TYPE_CHECKING = False  # not typing's: importing typing costs every CLI start
if TYPE_CHECKING:
    from typing import Any

ANNOTATION = "org.pycore.restart"
NAMES = ("no", "on-failure", "always", "unless-stopped")


@struct(frozen=True, slots=True)
class RestartPolicy:
    name: str = "no"
    maximum_retry_count: int = 0

    def __str__(self) -> str:
        if self.name == "on-failure" and self.maximum_retry_count:
            return f"{self.name}:{self.maximum_retry_count}"
        return self.name

    def host_config(self) -> dict[str, Any]:
        """Docker's `HostConfig.RestartPolicy`."""
        return {"Name": self.name, "MaximumRetryCount": self.maximum_retry_count}


def parse(text: str | None) -> RestartPolicy:
    """Docker's syntax; a count only with `on-failure`."""
    if not text:
        return RestartPolicy()
    name, sep, count = text.partition(":")
    if name not in NAMES:
        raise UsageError(f"invalid restart policy {text!r}")
    if not sep:
        return RestartPolicy(name)
    if name != "on-failure":
        raise UsageError(f"invalid restart policy {text!r}: maximum retry count cannot be used")
    if not count.isdigit():
        raise UsageError(f"invalid restart policy {text!r}: maximum retry count must be a number")
    return RestartPolicy(name, int(count))


def stop_marker(state: Path) -> Path:
    """The file that tells the monitor the user stopped the container (see the Rust twin)."""
    return state.with_name("stopped")


def mark_stopped(state: Path) -> None:
    stop_marker(state).touch()


def clear_stopped(state: Path) -> None:
    stop_marker(state).unlink(missing_ok=True)
