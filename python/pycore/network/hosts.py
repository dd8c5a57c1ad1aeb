"""Name resolution: pycore has no daemon to answer DNS, so every container's /etc/hosts is
kept in sync: on a user-defined network it lists every other container of that network by
name and alias; `--link` adds the linked container under its alias (on any network)."""

from __future__ import annotations

import os

TYPE_CHECKING = False  # not typing's: importing typing costs every CLI start
if TYPE_CHECKING:
    from collections.abc import Iterable

BASE = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"


def render(hostname: str, own_ip: str | None, peers: Iterable[tuple[str, list[str]]]) -> str:
    """The hosts file: loopback, the container's own name, then `ip names...` per peer."""
    lines = [BASE.rstrip("\n")]
    lines.append(f"{own_ip or '127.0.1.1'}\t{hostname}")
    seen: set[tuple[str, str]] = set()
    for ip, names in peers:
        names = [n for n in dict.fromkeys(names) if n and (ip, n) not in seen]
        seen.update((ip, n) for n in names)
        if names:
            lines.append(f"{ip}\t{' '.join(names)}")
    return "\n".join(lines) + "\n"


def write_in_place(path: str | os.PathLike[str], text: str) -> None:
    """The file is bind-mounted into a running container: a rename would leave the
    container on the old inode, so this one file is rewritten in place (as Docker does)."""
    try:
        with open(path, "r+") as f:
            f.truncate(0)
            f.write(text)
    except FileNotFoundError:
        pass
