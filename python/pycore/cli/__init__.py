"""The `pycore` command: a click group, one module per noun.

Each command parses its arguments, calls a public service and renders the result through
`pycore.ui`. `main()` is the only place errors become stderr text and exit codes.
"""

from __future__ import annotations

import sys

from pycore.cli.app import cli
from pycore.errors import PycoreError


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `pycore` console script."""
    import click

    try:
        # Without standalone mode, click returns the code of `ctx.exit(n)` instead of raising.
        code = cli.main(args=argv, prog_name="pycore", standalone_mode=False)
        if isinstance(code, int) and not isinstance(code, bool):
            return code
    except click.exceptions.Exit as e:
        return int(e.exit_code or 0)
    except click.Abort:
        print("pycore: aborted", file=sys.stderr)
        return 130
    except click.ClickException as e:
        print(f"pycore: {e.format_message()}", file=sys.stderr)
        return 125 if e.exit_code == 1 else e.exit_code
    except PycoreError as e:
        if _debug_requested(argv):
            raise
        print(f"pycore: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("pycore: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 141
    return 0


def _debug_requested(argv: list[str] | None) -> bool:
    from pycore.settings import Settings

    args = sys.argv[1:] if argv is None else argv
    return "--debug" in args or Settings.from_env().debug


__all__ = ["cli", "main"]
