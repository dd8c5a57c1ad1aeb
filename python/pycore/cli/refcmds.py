"""`start`, `stop`, `kill`, `wait` and `rm`: commands on containers named by reference, their
options as tables and the commands themselves without click.

The click commands (`pycore.cli.containers`) are built from these tables and call these
functions; `runflags.fast_command` parses the plain shapes (`rm -f a b`) with the same tables
and calls them without importing click. Docker's way with several containers: each in turn,
an error is one line and the rest are still done, and the command exits with the last
error's code.
"""

from __future__ import annotations

import sys

from pycore.cli.runflags import BOOL, INT, VALUE, Flag, container_service

TYPE_CHECKING = False  # not typing's: importing typing costs every CLI start
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any

    from pycore.settings import Settings

START_FLAGS: tuple[Flag, ...] = (
    Flag(("-a", "--attach"), "attach", BOOL, "Attach stdout/stderr, forward signals."),
    Flag(("-i", "--interactive"), "interactive", BOOL, "Attach the container's STDIN."),
)
STOP_FLAGS: tuple[Flag, ...] = (
    Flag(("-t", "--time"), "timeout", INT, "Seconds to wait before killing it.", 10),
    Flag(("-s", "--signal"), "sig", VALUE, "Signal to send (default: STOPSIGNAL or SIGTERM)."),
)
KILL_FLAGS: tuple[Flag, ...] = (Flag(("-s", "--signal"), "sig", VALUE, "Signal to send.", "KILL"),)
WAIT_FLAGS: tuple[Flag, ...] = ()
RM_FLAGS: tuple[Flag, ...] = (
    Flag(("-f", "--force"), "force", BOOL, "Kill a running container first."),
    Flag(("-v", "--volumes"), "volumes", BOOL, "Remove its anonymous volumes too."),
)
FLAGS: dict[str, tuple[Flag, ...]] = {
    "start": START_FLAGS,
    "stop": STOP_FLAGS,
    "kill": KILL_FLAGS,
    "wait": WAIT_FLAGS,
    "rm": RM_FLAGS,
}


def each(refs: Sequence[str], act: Callable[[str], object], *, missing_ok: bool = False) -> int:
    """`act` on each reference in turn, what it returns printed (the reference when it
    returns None); an error is one line on stderr and the rest are still done. The exit
    code: the last error's, else 0. `missing_ok` (`rm -f`): a container that does not exist
    is said on stderr but is no failure, as `rm -f` of a missing file."""
    from pycore.errors import ContainerNotFound, PycoreError

    failed = 0
    for ref in refs:
        try:
            out = act(ref)
        except PycoreError as e:
            sys.stdout.flush()
            print(f"pycore: {e}", file=sys.stderr)
            if not (missing_ok and isinstance(e, ContainerNotFound)):
                failed = e.exit_code
            continue
        print(ref if out is None else out)
    return failed


def start_command(settings: Settings, kw: dict[str, Any]) -> int:
    """Start each container; attached (`-a`/`-i`), the first one's exit code."""
    svc = container_service(settings)
    attach, interactive = kw["attach"], kw["interactive"]
    for ref in kw["containers"]:
        code = svc.start(ref, attach=attach or interactive, interactive=interactive)
        if attach:
            return int(code or 0)
        print(ref)
    return 0


def stop_command(settings: Settings, kw: dict[str, Any]) -> int:
    from pycore.runtime.containers import parse_signal

    svc = container_service(settings)
    sig = parse_signal(kw["sig"]) if kw["sig"] else None

    def stop(ref: str) -> None:
        svc.stop(ref, timeout=kw["timeout"], sig=sig)

    return each(kw["containers"], stop)


def kill_command(settings: Settings, kw: dict[str, Any]) -> int:
    from pycore.runtime.containers import parse_signal

    svc = container_service(settings)
    sig = parse_signal(kw["sig"])

    def kill(ref: str) -> None:
        svc.kill(ref, sig)

    return each(kw["containers"], kill)


def wait_command(settings: Settings, kw: dict[str, Any]) -> int:
    return each(kw["containers"], container_service(settings).wait)


def rm_command(settings: Settings, kw: dict[str, Any]) -> int:
    svc = container_service(settings)

    def remove(ref: str) -> None:
        svc.remove(ref, force=kw["force"], volumes=kw["volumes"])

    return each(kw["containers"], remove, missing_ok=kw["force"])


COMMANDS: dict[str, Callable[[Settings, dict[str, Any]], int]] = {
    "start": start_command,
    "stop": stop_command,
    "kill": kill_command,
    "wait": wait_command,
    "rm": rm_command,
}
