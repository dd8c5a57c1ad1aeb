"""Container commands: `run`, `create`, `start`, `stop`, `kill`, `wait`, `rm`, `ps`, `logs`,
`inspect` (and the same under `container`). Each parses its arguments, calls
`pycore.runtime.containers.ContainerService` and renders through `pycore.ui`."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from pycore.cli.app import cli, settings
from pycore.structs import struct
from pycore.ui.output import FORMATS, column

if TYPE_CHECKING:
    from pycore.runtime.containers import Container, ContainerService
    from pycore.runtime.options import RunOptions


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


def _run_options(f: F) -> F:
    opts = [
        click.option("-e", "--env", "env", multiple=True, help="Set an environment variable."),
        click.option("--env-file", multiple=True, type=click.Path(dir_okay=False)),
        click.option("-w", "--workdir", help="Working directory inside the container."),
        click.option("-u", "--user", help="Username or UID (format: <name|uid>[:<group|gid>])."),
        click.option("--entrypoint", help="Overwrite the default ENTRYPOINT of the image."),
        click.option("-h", "--hostname", help="Container host name."),
        click.option("--name", help="Assign a name to the container."),
        click.option("--rm", "auto_remove", is_flag=True, help="Remove the container on exit."),
        click.option(
            "--network", "--net", "network", help="bridge, none, host, container:NAME or NETWORK."
        ),
        click.option("-p", "--publish", multiple=True, help="[ip:][hostPort:]ctrPort[/proto]."),
        click.option("-P", "--publish-all", is_flag=True, help="Publish every exposed port."),
        click.option("--expose", multiple=True, help="Expose a port or a range of ports."),
        click.option("--link", multiple=True, help="Link another container: name[:alias]."),
        click.option("--network-alias", "--net-alias", multiple=True, help="Network-scoped alias."),
        click.option("--ip", help="IPv4 address on a user-defined network."),
        click.option("--read-only", is_flag=True, help="Mount the root filesystem read-only."),
        click.option("--privileged", is_flag=True, help="Give extended privileges."),
        click.option("--cap-add", multiple=True, help="Add Linux capabilities."),
        click.option("--cap-drop", multiple=True, help="Drop Linux capabilities."),
        click.option("--security-opt", multiple=True, help="no-new-privileges[:true]."),
        click.option("-l", "--label", multiple=True, help="Set metadata (key=value)."),
        click.option("-v", "--volume", multiple=True, help="Bind or volume: [SRC:]DST[:ro]."),
        click.option("--mount", multiple=True, help="type=bind|volume|tmpfs,source=,target=..."),
        click.option("--tmpfs", multiple=True, help="Mount a tmpfs: PATH[:OPTIONS]."),
        click.option("-m", "--memory", help="Memory limit (e.g. 64m, 1g)."),
        click.option("--memory-swap", help="Memory plus swap limit; -1: unlimited swap."),
        click.option("--cpus", help="Number of CPUs (e.g. 0.5)."),
        click.option("-c", "--cpu-shares", type=int, help="CPU shares (relative weight)."),
        click.option("--pids-limit", type=int, help="Maximum number of processes."),
        click.option("--restart", help="no, on-failure[:N], always or unless-stopped."),
        click.option("-i", "--interactive", is_flag=True, help="Keep STDIN open."),
        click.option("-t", "--tty", is_flag=True, help="Allocate a pseudo-TTY."),
        click.option("--init", is_flag=True, help="Run a reaping init as pid 1."),
        click.argument("image"),
        click.argument("command", nargs=-1, type=click.UNPROCESSED),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def _options(kw: dict[str, Any]) -> RunOptions:
    from pycore.errors import UsageError
    from pycore.network.ports import parse_expose, parse_publish
    from pycore.runtime import cgroups, restart
    from pycore.runtime.mounts import parse_all
    from pycore.runtime.options import RunOptions, env_entries, parse_network

    nnp = False
    for so in kw["security_opt"]:
        if so in ("no-new-privileges", "no-new-privileges:true", "no-new-privileges=true"):
            nnp = True
        elif so not in ("no-new-privileges:false", "no-new-privileges=false"):
            raise UsageError(f"unsupported --security-opt {so!r}")
    labels = dict(item.partition("=")[::2] for item in kw["label"])
    return RunOptions(
        command=tuple(kw["command"]),
        entrypoint=kw["entrypoint"],
        env=env_entries(kw["env"], [Path(p) for p in kw["env_file"]], os.environ),
        workdir=kw["workdir"],
        user=kw["user"],
        hostname=kw["hostname"],
        network=parse_network(kw["network"]),
        publish=tuple(b for spec in kw["publish"] for b in parse_publish(spec)),
        publish_all=kw["publish_all"],
        expose=tuple(p for spec in kw["expose"] for p in parse_expose(spec)),
        links=tuple(kw["link"]),
        network_aliases=tuple(kw["network_alias"]),
        ip=kw["ip"],
        read_only=kw["read_only"],
        privileged=kw["privileged"],
        cap_add=tuple(kw["cap_add"]),
        cap_drop=tuple(kw["cap_drop"]),
        no_new_privileges=nnp,
        labels=labels,
        mounts=parse_all(kw["volume"], kw["mount"], kw["tmpfs"]),
        resources=cgroups.parse(
            memory=kw["memory"],
            memory_swap=kw["memory_swap"],
            cpus=kw["cpus"],
            cpu_shares=kw["cpu_shares"],
            pids_limit=kw["pids_limit"],
        ),
        restart=restart.parse(kw["restart"]),
        tty=kw["tty"],
        interactive=kw["interactive"],
        init=kw["init"],
    )


# Options after the image belong to the container's command.
_PASSTHROUGH: dict[str, Any] = {"allow_interspersed_args": False}


@_both("run", _PASSTHROUGH)
@click.option("-d", "--detach", is_flag=True, help="Run in the background, print the id.")
@_run_options
@click.pass_context
def run_cmd(ctx: click.Context, /, detach: bool, **kw: Any) -> None:
    """Create and run a new container from an image."""
    c, code = service(ctx).run(
        kw["image"],
        _options(kw),
        name=kw["name"],
        auto_remove=kw["auto_remove"],
        detach=detach,
    )
    if detach:
        click.echo(c.id)
        return
    sys.stdout.flush()
    ctx.exit(code or 0)


@_both("create", _PASSTHROUGH)
@_run_options
@click.pass_context
def create_cmd(ctx: click.Context, /, **kw: Any) -> None:
    """Create a new container (without starting it)."""
    c = service(ctx).create(
        kw["image"], _options(kw), name=kw["name"], auto_remove=kw["auto_remove"]
    )
    click.echo(c.id)


@_both("start")
@click.option("-a", "--attach", is_flag=True, help="Attach stdout/stderr, forward signals.")
@click.option("-i", "--interactive", is_flag=True, help="Attach the container's STDIN.")
@click.argument("containers", nargs=-1, required=True)
@click.pass_context
def start_cmd(
    ctx: click.Context, attach: bool, interactive: bool, containers: tuple[str, ...]
) -> None:
    """Start one or more stopped containers."""
    svc = service(ctx)
    for ref in containers:
        code = svc.start(ref, attach=attach or interactive, interactive=interactive)
        if attach:
            ctx.exit(code or 0)
        click.echo(ref)


@_both("stop")
@click.option("-t", "--time", "timeout", type=int, default=10, show_default=True)
@click.option("-s", "--signal", "sig", help="Signal to send (default: STOPSIGNAL or SIGTERM).")
@click.argument("containers", nargs=-1, required=True)
@click.pass_context
def stop_cmd(
    ctx: click.Context, timeout: int, sig: str | None, containers: tuple[str, ...]
) -> None:
    """Stop one or more running containers."""
    from pycore.runtime.containers import parse_signal

    svc = service(ctx)
    for ref in containers:
        svc.stop(ref, timeout=timeout, sig=parse_signal(sig) if sig else None)
        click.echo(ref)


@_both("kill")
@click.option("-s", "--signal", "sig", default="KILL", show_default=True)
@click.argument("containers", nargs=-1, required=True)
@click.pass_context
def kill_cmd(ctx: click.Context, sig: str, containers: tuple[str, ...]) -> None:
    """Kill one or more running containers."""
    from pycore.runtime.containers import parse_signal

    svc = service(ctx)
    for ref in containers:
        svc.kill(ref, parse_signal(sig))
        click.echo(ref)


@_both("wait")
@click.argument("containers", nargs=-1, required=True)
@click.pass_context
def wait_cmd(ctx: click.Context, containers: tuple[str, ...]) -> None:
    """Block until containers stop, then print their exit codes."""
    svc = service(ctx)
    for ref in containers:
        click.echo(str(svc.wait(ref)))


@_both("rm")
@click.option("-f", "--force", is_flag=True, help="Kill a running container first.")
@click.option("-v", "--volumes", is_flag=True, help="Remove its anonymous volumes too.")
@click.argument("containers", nargs=-1, required=True)
@click.pass_context
def rm_cmd(ctx: click.Context, force: bool, volumes: bool, containers: tuple[str, ...]) -> None:
    """Remove one or more containers."""
    svc = service(ctx)
    for ref in containers:
        svc.remove(ref, force=force, volumes=volumes)
        click.echo(ref)


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
    if s.status == "running":
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
    found = select(root / "containers", parsed, show_all=show_all, last=1 if latest else last)
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
