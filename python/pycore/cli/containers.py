"""Container commands: `run`, `create`, `start`, `stop`, `kill`, `wait`, `rm`, `ps`, `logs`,
`inspect` (and the same under `container`). Each parses its arguments, calls
`pycore.runtime.containers.ContainerService` and renders through `pycore.ui`."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import click

from pycore.cli import refcmds
from pycore.cli.app import cli, settings
from pycore.cli.runflags import (
    BOOL,
    DETACH,
    INT,
    MULTI,
    RUN_FLAGS,
    Flag,
    create_command,
    run_command,
)
from pycore.structs import struct
from pycore.ui.output import FORMATS, column

if TYPE_CHECKING:
    from pycore.runtime.containers import Container, ContainerService


F = TypeVar("F", bound=Callable[..., Any])


def service(ctx: click.Context) -> ContainerService:
    from pycore.runtime.containers import ContainerService
    from pycore.store.store import Store

    return ContainerService(Store.open(settings(ctx).root))


@cli.group("container")
def container_group() -> None:
    """Manage containers."""


def _both(
    name: str, context_settings: dict[str, Any] | None = None
) -> Callable[[Callable[..., None]], click.Command]:
    """Register a command as `pycore NAME` and `pycore container NAME`."""

    def deco(f: Callable[..., None]) -> click.Command:
        cmd = click.command(name, context_settings=context_settings)(f)
        cli.add_command(cmd)
        container_group.add_command(cmd)
        return cmd

    return deco


def _click_option(flag: Flag) -> Callable[[F], F]:
    if flag.kind == BOOL:
        return click.option(*flag.names, flag.dest, is_flag=True, help=flag.help)
    if flag.kind == MULTI:
        return click.option(*flag.names, flag.dest, multiple=True, help=flag.help)
    kind = int if flag.kind == INT else None
    if flag.default is not None:
        return click.option(
            *flag.names,
            flag.dest,
            type=kind,
            default=flag.default,
            show_default=True,
            help=flag.help,
        )
    return click.option(*flag.names, flag.dest, type=kind, help=flag.help)


def _ref_options(flags: tuple[Flag, ...]) -> Callable[[F], F]:
    """`flags` as click options, then one or more CONTAINERS."""

    def deco(f: F) -> F:
        f = click.argument("containers", nargs=-1, required=True)(f)
        for flag in reversed(flags):
            f = _click_option(flag)(f)
        return f

    return deco


def _run_options(f: F) -> F:
    """RUN_FLAGS as click options, then IMAGE and the container's COMMAND."""
    f = click.argument("command", nargs=-1, type=click.UNPROCESSED)(f)
    f = click.argument("image")(f)
    for flag in reversed(RUN_FLAGS):
        f = _click_option(flag)(f)
    return f


# Options after the image belong to the container's command.
_PASSTHROUGH: dict[str, Any] = {"allow_interspersed_args": False}


@_both("run", _PASSTHROUGH)
@_click_option(DETACH)
@_run_options
@click.pass_context
def run_cmd(ctx: click.Context, /, **kw: Any) -> None:
    """Create and run a new container from an image."""
    ctx.exit(run_command(settings(ctx), kw))


@_both("create", _PASSTHROUGH)
@_run_options
@click.pass_context
def create_cmd(ctx: click.Context, /, **kw: Any) -> None:
    """Create a new container (without starting it)."""
    create_command(settings(ctx), kw)


@_both("start")
@_ref_options(refcmds.START_FLAGS)
@click.pass_context
def start_cmd(ctx: click.Context, /, **kw: Any) -> None:
    """Start one or more stopped containers."""
    ctx.exit(refcmds.start_command(settings(ctx), kw))


@_both("stop")
@_ref_options(refcmds.STOP_FLAGS)
@click.pass_context
def stop_cmd(ctx: click.Context, /, **kw: Any) -> None:
    """Stop one or more running containers."""
    ctx.exit(refcmds.stop_command(settings(ctx), kw))


@_both("kill")
@_ref_options(refcmds.KILL_FLAGS)
@click.pass_context
def kill_cmd(ctx: click.Context, /, **kw: Any) -> None:
    """Kill one or more running containers."""
    ctx.exit(refcmds.kill_command(settings(ctx), kw))


@_both("wait")
@_ref_options(refcmds.WAIT_FLAGS)
@click.pass_context
def wait_cmd(ctx: click.Context, /, **kw: Any) -> None:
    """Block until containers stop, then print their exit codes."""
    ctx.exit(refcmds.wait_command(settings(ctx), kw))


@_both("rm")
@_ref_options(refcmds.RM_FLAGS)
@click.pass_context
def rm_cmd(ctx: click.Context, /, **kw: Any) -> None:
    """Remove one or more containers."""
    ctx.exit(refcmds.rm_command(settings(ctx), kw))


@_both("logs")
@click.option("-t", "--timestamps", is_flag=True, help="Show timestamps.")
@click.option("-f", "--follow", is_flag=True, help="Follow log output until the container exits.")
@click.option("-n", "--tail", default="all", help="Lines from the end of the log (or all).")
@click.option("--since", help="Since a timestamp (2013-01-02T13:23:37Z) or duration (42m).")
@click.option("--until", help="Before a timestamp or duration (42m ago).")
@click.argument("container")
@click.pass_context
def logs_cmd(
    ctx: click.Context,
    timestamps: bool,
    follow: bool,
    tail: str,
    since: str | None,
    until: str | None,
    container: str,
) -> None:
    """Fetch the logs of a container."""
    from pycore.runtime import logs, records

    c = service(ctx).get(container)
    entries = logs.read(
        c.dir.log,
        since=logs.parse_time(since) if since else None,
        until=logs.parse_time(until) if until else None,
        tail=logs.parse_tail(tail),
        follow=(lambda: records.read_state(c.dir).status == "running") if follow else None,
    )
    for e in entries:
        out = sys.stdout if e.stream == "stdout" else sys.stderr
        out.write(f"{e.time} {e.text}" if timestamps else e.text)
        if follow:
            out.flush()
    sys.stdout.flush()


@_both("inspect")
@click.argument("containers", nargs=-1, required=True)
@click.pass_context
def inspect_cmd(ctx: click.Context, containers: tuple[str, ...]) -> None:
    """Display detailed information on one or more containers."""
    from pycore.ui.output import emit_json

    svc = service(ctx)
    emit_json([svc.inspect(ref) for ref in containers], sys.stdout)


@struct(frozen=True, slots=True)
class ContainerRow:
    """One line of `pycore ps`."""

    id: str = column("CONTAINER ID", json_name="ID")
    image: str = column("IMAGE")
    command: str = column("COMMAND")
    running_for: str = column("CREATED")
    status: str = column("STATUS")
    ports: str = column("PORTS")
    names: str = column("NAMES")
    size: str = column("SIZE")  # with `ps -s` only
    created_at: str = column()
    state: str = column()


def _ago(ts: str | None, now: datetime) -> str:
    from pycore.ui.output import human_duration

    if not ts:
        return ""
    try:
        t = datetime.fromisoformat(ts[:26].rstrip("Z") + "+00:00")
    except ValueError:
        return ""
    return human_duration(max(0.0, (now - t).total_seconds()))


def container_row(
    c: Container,
    *,
    status: str | None = None,
    ports: str = "",
    size: str = "",
    no_trunc: bool = False,
    now: datetime | None = None,
) -> ContainerRow:
    """One `ps` line; `status` is Docker's State (`paused`, `restarting` beyond the record's)."""
    now = now or datetime.now(UTC)
    s = c.state
    state = status or s.status
    if s.restarting:  # Docker: the last run's exit code and end
        shown = f"Restarting ({s.exit_code}) {_ago(s.finished_at, now)} ago"
    elif s.status == "running":
        shown = f"Up {_ago(s.started_at, now)}" + (" (Paused)" if state == "paused" else "")
    elif s.status == "exited":
        ago = _ago(s.finished_at, now)  # unknown when the monitor died first
        shown = f"Exited ({s.exit_code}) {ago} ago" if ago else f"Exited ({s.exit_code})"
    else:
        shown = "Created"
    command = c.command if no_trunc else _trunc(c.command, 20)
    return ContainerRow(
        id=c.id if no_trunc else c.short_id,
        image=c.image,
        command=f'"{command}"',
        running_for=f"{_ago(c.created, now)} ago",
        status=shown,
        ports=ports,
        names=c.name,
        size=size,
        created_at=c.created,
        state=state,
    )


def _trunc(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


@_both("ps")
@click.option("-a", "--all", "show_all", is_flag=True, help="Show all containers.")
@click.option("-q", "--quiet", is_flag=True, help="Only display container IDs.")
@click.option("--no-trunc", is_flag=True, help="Don't truncate output.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option("-f", "--filter", "filters", multiple=True, help="Filter (status=, name=, ...).")
@click.option("-n", "--last", type=int, default=-1, help="Show n last created containers.")
@click.option("-l", "--latest", is_flag=True, help="Show the latest created container.")
@click.option("-s", "--size", "show_size", is_flag=True, help="Display total file sizes.")
@click.pass_context
def ps_cmd(
    ctx: click.Context,
    show_all: bool,
    quiet: bool,
    no_trunc: bool,
    fmt: str,
    filters: tuple[str, ...],
    last: int,
    latest: bool,
    show_size: bool,
) -> None:
    """List containers."""
    from pycore.runtime.ps import Filters, published_ports, select, sizes
    from pycore.ui.output import emit_rows

    parsed = Filters.parse(filters)
    root = settings(ctx).root
    # Not through ContainerService: listing needs the records only, not the engine's imports.
    found = select(f"{root}/containers", parsed, show_all=show_all, last=1 if latest else last)
    if quiet:
        for sel in found:
            click.echo(sel.container.id if no_trunc else sel.container.short_id)
        return
    now = datetime.now(UTC)
    size = sizes(root, [sel.container for sel in found]) if show_size else {}
    rows = [
        container_row(
            sel.container,
            status=sel.status,
            ports=published_ports(root, sel.container),
            size=size.get(sel.container.id, ""),
            no_trunc=no_trunc,
            now=now,
        )
        for sel in found
    ]
    hide = () if show_size else ("size",)
    emit_rows(ContainerRow, rows, fmt, sys.stdout, hide=hide)  # type: ignore[arg-type]
