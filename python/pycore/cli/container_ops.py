"""Commands on running containers: `exec`, `restart`, `pause`, `unpause`, `top`, `stats`
(and the same under `container`). Each parses its
arguments, calls a service in `pycore.runtime` and renders through `pycore.ui`."""

from __future__ import annotations

import sys
from typing import Any

import click

from pycore.cli.app import settings
from pycore.cli.containers import F, _both, _click_option, service
from pycore.cli.runflags import EXEC_FLAGS, exec_command
from pycore.structs import struct
from pycore.ui.output import FORMATS, column

# Options after the container belong to the command.
_PASSTHROUGH: dict[str, Any] = {"allow_interspersed_args": False}


def _exec_options(f: F) -> F:
    """EXEC_FLAGS as click options, then CONTAINER and the COMMAND."""
    f = click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)(f)
    f = click.argument("container")(f)
    for flag in reversed(EXEC_FLAGS):
        f = _click_option(flag)(f)
    return f


@_both("exec", _PASSTHROUGH)
@_exec_options
@click.pass_context
def exec_cmd(ctx: click.Context, /, **kw: Any) -> None:
    """Execute a command in a running container."""
    ctx.exit(exec_command(settings(ctx), kw))


@_both("restart")
@click.option("-t", "--time", "timeout", type=int, default=10, show_default=True)
@click.argument("containers", nargs=-1, required=True)
@click.pass_context
def restart_cmd(ctx: click.Context, timeout: int, containers: tuple[str, ...]) -> None:
    """Restart one or more containers."""
    svc = service(ctx)
    for ref in containers:
        svc.stop(ref, timeout=timeout)
        svc.start(ref)
        click.echo(ref)


@_both("pause")
@click.argument("containers", nargs=-1, required=True)
@click.pass_context
def pause_cmd(ctx: click.Context, containers: tuple[str, ...]) -> None:
    """Pause all processes within one or more containers."""
    from pycore.runtime import procs

    svc = service(ctx)
    for ref in containers:
        procs.pause(svc.get(ref))
        click.echo(ref)


@_both("unpause")
@click.argument("containers", nargs=-1, required=True)
@click.pass_context
def unpause_cmd(ctx: click.Context, containers: tuple[str, ...]) -> None:
    """Unpause all processes within one or more containers."""
    from pycore.runtime import procs

    svc = service(ctx)
    for ref in containers:
        procs.unpause(svc.get(ref))
        click.echo(ref)


@_both("top", _PASSTHROUGH)
@click.argument("container")
@click.argument("ps_args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def top_cmd(ctx: click.Context, container: str, ps_args: tuple[str, ...]) -> None:
    """Display the running processes of a container."""
    from pycore.runtime import procs
    from pycore.ui.table import render_table

    titles, rows = procs.top(service(ctx).get(container), ps_args)
    sys.stdout.write(render_table(titles, rows))


@struct(frozen=True, slots=True)
class StatsRow:
    """One line of `pycore stats`."""

    id: str = column("CONTAINER ID", json_name="ID")
    name: str = column("NAME")
    cpu_perc: str = column("CPU %")
    mem_usage: str = column("MEM USAGE / LIMIT")
    mem_perc: str = column("MEM %")
    pids: str = column("PIDS")
    source: str = column()


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.4g}{unit}" if unit != "B" else f"{int(n)}B"
        n /= 1024
    return f"{n}"


@_both("stats")
@click.option("--no-stream", is_flag=True, help="One reading (the only mode so far).")
@click.option("-a", "--all", "show_all", is_flag=True, help="All containers (default running).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.argument("containers", nargs=-1)
@click.pass_context
def stats_cmd(
    ctx: click.Context, no_stream: bool, show_all: bool, fmt: str, containers: tuple[str, ...]
) -> None:
    """Display a reading of containers' resource usage (CPU over one second)."""
    import time

    from pycore.runtime import procs
    from pycore.ui.output import emit_rows

    svc = service(ctx)
    found = [svc.get(r) for r in containers] if containers else svc.list(all=show_all)
    running = [c for c in found if c.running]
    first = {c.id: procs.sample(c) for c in running}
    time.sleep(1.0)
    rows = []
    for c in found:
        if c.id not in first:
            rows.append(StatsRow(c.short_id, c.name, "0.00%", "0B / 0B", "0.00%", "0", ""))
            continue
        a, b = first[c.id], procs.sample(c)
        mem_perc = b.memory / b.limit * 100 if b.limit else 0.0
        rows.append(
            StatsRow(
                id=c.short_id,
                name=c.name,
                cpu_perc=f"{procs.cpu_percent(a, b):.2f}%",
                mem_usage=f"{_size(b.memory)} / {_size(b.limit)}",
                mem_perc=f"{mem_perc:.2f}%",
                pids=str(b.pids),
                source=b.source,
            )
        )
    emit_rows(StatsRow, rows, fmt, sys.stdout)  # type: ignore[arg-type]
