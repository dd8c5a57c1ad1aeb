"""The `pycore` command: a click group, one module per noun.

Each command parses its arguments, calls a public service and renders the result through
`pycore.ui`. `main()` is the only place errors become stderr text and exit codes. `run` and
`create` in their common shapes skip click (`pycore.cli.runflags`); the click group is
imported only when a command needs it.
"""

from __future__ import annotations

import gc
import os
import sys

from pycore.errors import PycoreError

TYPE_CHECKING = False  # not typing's: importing typing costs every CLI start
if TYPE_CHECKING:
    from typing import Any, NoReturn

    import click


def main(argv: list[str] | None = None) -> int:
    """The `pycore` command line's exit code (errors printed as one line on stderr)."""
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        from pycore.cli.runflags import fast_command

        code = fast_command(args)
        return _click_main(args) if code is None else code
    except PycoreError as e:
        if _debug_requested(args):
            raise
        print(f"pycore: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("pycore: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 141


def _click_main(args: list[str]) -> int:
    gc.enable()
    import click

    from pycore.cli.app import cli

    try:
        # Without standalone mode, click returns the code of `ctx.exit(n)` instead of raising.
        code = cli.main(args=args, prog_name="pycore", standalone_mode=False)
        if isinstance(code, int) and not isinstance(code, bool):
            return code
    except click.exceptions.Exit as e:
        return int(e.exit_code or 0)
    except click.Abort:
        print("pycore: aborted", file=sys.stderr)
        return 130
    except click.ClickException as e:
        print(f"pycore: {e.format_message()}", file=sys.stderr)
        # Docker's own errors, usage errors included (`unknown flag`), exit 125; click's are
        # 1 (an error) and 2 (usage).
        return 125 if e.exit_code in (1, 2) else e.exit_code
    return 0


def entry() -> NoReturn:
    """The `pycore` command (python/pycore.data/scripts/pycore): `main()`, then exit without
    tearing the interpreter down (module and object teardown costs a short command like
    `run --rm` ~10-30 ms; every file and process pycore made is already closed or released
    by then)."""
    # `run` and `create` allocate little and exit soon: no cyclic garbage collection for them
    # (its passes over the objects that imports create cost ~4% of a start); every other
    # command turns it back on (`_click_main`).
    gc.disable()
    code = main()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:
        code = code or 141
    os._exit(code)


def _debug_requested(args: list[str]) -> bool:
    from pycore.settings import Settings

    return "--debug" in args or Settings.from_env().debug


def __getattr__(name: str) -> Any:
    if name == "cli":  # the click group, for programs that embed it
        from pycore.cli.app import cli

        group: click.Group = cli
        return group
    raise AttributeError(name)


__all__ = ["cli", "entry", "main"]
