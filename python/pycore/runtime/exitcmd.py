"""The exit command of a container's monitor: `pycore container cleanup`, which it runs once
the container is finished for good, to release what the container held outside its directory
(its network endpoint; an `--rm` container's anonymous volumes). A `stop`, `rm -f` or `wait`
of such a container waits for it, so it is started lean: `python -c` of the CLI's entry, not
`python -m pycore` (runpy and what it imports), and the CLI parses it without click
(`pycore.cli.runflags.fast_command`)."""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # not typing's: importing typing costs every CLI start
if TYPE_CHECKING:
    from collections.abc import Sequence

ENTRY = "from pycore.cli import entry; entry()"


def cleanup_argv(root: str, cid: str, volumes: Sequence[str] = ()) -> list[str] | None:
    """The command line; None where this interpreter cannot say where it is."""
    if not sys.executable:
        return None
    argv = [sys.executable, "-c", ENTRY, "--root", root, "container", "cleanup"]
    for name in volumes:
        argv += ["--volume", name]
    return [*argv, cid]


def parse_cleanup(args: Sequence[str]) -> tuple[str, tuple[str, ...]] | None:
    """`[--volume NAME]... ID` (what `cleanup_argv` writes): the id and the volumes; None for
    any other shape (click then parses it, and says what is wrong)."""
    volumes: list[str] = []
    ids: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--volume" and i + 1 < len(args):
            volumes.append(args[i + 1])
            i += 2
            continue
        if arg.startswith("--volume=") and len(arg) > 9:
            volumes.append(arg[9:])
        elif arg.startswith("-") or ids:
            return None
        else:
            ids.append(arg)
        i += 1
    return (ids[0], tuple(volumes)) if ids else None
