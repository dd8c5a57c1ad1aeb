"""Restart policies (`--restart no|on-failure[:N]|always|unless-stopped`): parsed here, carried to
the monitor in the bundle's `org.pycore.restart` annotation, applied by the monitor (it outlives
the CLI). Without a daemon there is no daemon restart: `always` and `unless-stopped` are alike.
`stop`, `kill` and `rm` leave a `stopped` file beside `state.json` so the monitor stops too."""

from __future__ import annotations

import os

from pycore.errors import UsageError
from pycore.structs import struct

TYPE_CHECKING = False  # not typing's: importing typing costs every CLI start
if TYPE_CHECKING:
    from os import PathLike
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


def stop_marker(state: str | PathLike[str]) -> str:
    """The file that tells the monitor the user stopped the container (see the Rust twin)."""
    return os.path.join(os.path.dirname(state), "stopped")


def mark_stopped(state: str | PathLike[str]) -> None:
    os.close(os.open(stop_marker(state), os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644))


def clear_stopped(state: str | PathLike[str]) -> None:
    try:
        os.unlink(stop_marker(state))
    except FileNotFoundError:
        pass
