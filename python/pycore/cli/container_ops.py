"""Commands on running containers: `exec` (and the same under `container`). Each parses its
arguments, calls a service in `pycore.runtime` and renders through `pycore.ui`."""

from __future__ import annotations

import sys
from typing import Any

import click

from pycore.cli.containers import _both, service

# Options after the container belong to the command.
_PASSTHROUGH: dict[str, Any] = {"allow_interspersed_args": False}


@_both("exec", _PASSTHROUGH)
@click.option("-d", "--detach", is_flag=True, help="Detached mode: run in the background.")
@click.option("-i", "--interactive", is_flag=True, help="Keep STDIN open.")
@click.option("-t", "--tty", is_flag=True, help="Allocate a pseudo-TTY.")
@click.option("-e", "--env", "env", multiple=True, help="Set environment variables.")
@click.option("-u", "--user", help="Username or UID (format: <name|uid>[:<group|gid>]).")
@click.option("-w", "--workdir", help="Working directory inside the container.")
@click.argument("container")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.pass_context
def exec_cmd(
    ctx: click.Context,
    /,
    detach: bool,
    interactive: bool,
    tty: bool,
    env: tuple[str, ...],
    user: str | None,
    workdir: str | None,
    container: str,
    command: tuple[str, ...],
) -> None:
    """Execute a command in a running container."""
    import os

    from pycore.runtime.exec import ExecOptions, exec_in
    from pycore.runtime.options import env_entries

    opts = ExecOptions(
        command=command,
        env=tuple(env_entries(env, [], os.environ)),
        user=user,
        workdir=workdir,
        interactive=interactive and not detach,
        tty=tty and not detach,
        detach=detach,
    )
    sys.stdout.flush()
    result = exec_in(service(ctx), container, opts)
    ctx.exit(result.exit_code or 0)
