"""Volume commands: `volume create|ls|inspect|rm|prune`. Each parses its arguments, calls
`pycore.runtime.volumes.VolumeService` and renders through `pycore.ui`."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from pycore.cli.app import cli, settings
from pycore.structs import struct
from pycore.ui.output import FORMATS, column

if TYPE_CHECKING:
    from pycore.runtime.volumes import VolumeService


def service(ctx: click.Context) -> VolumeService:
    from pycore.runtime.volumes import VolumeService
    from pycore.store.store import Store

    return VolumeService(Store.open(settings(ctx).root))


@cli.group("volume")
def volume_group() -> None:
    """Manage volumes."""


@struct(frozen=True, slots=True)
class VolumeRow:
    """One line of `volume ls`."""

    driver: str = column("DRIVER")
    name: str = column("VOLUME NAME", json_name="Name")
    mountpoint: str = column()
    labels: str = column()
    scope: str = column()


def _labels(items: tuple[str, ...]) -> dict[str, str]:
    return {k: v for k, _, v in (i.partition("=") for i in items)}


@volume_group.command("create")
@click.option("-l", "--label", multiple=True, help="Set metadata (key=value).")
@click.option("-d", "--driver", default="local", help="Only 'local'.")
@click.argument("name", required=False)
@click.pass_context
def create_cmd(ctx: click.Context, label: tuple[str, ...], driver: str, name: str | None) -> None:
    """Create a volume (a random name when none is given)."""
    from pycore.errors import UsageError

    if driver != "local":
        raise UsageError(f"volume driver {driver!r} is not supported (only 'local')")
    click.echo(service(ctx).create(name, labels=_labels(label)).name)


@volume_group.command("ls")
@click.option("-q", "--quiet", is_flag=True, help="Only display volume names.")
@click.option("-f", "--filter", "filters", multiple=True, help="dangling=true|false, name=X.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.pass_context
def ls_cmd(ctx: click.Context, quiet: bool, filters: tuple[str, ...], fmt: str) -> None:
    """List volumes."""
    from pycore.errors import UsageError
    from pycore.ui.output import emit_rows

    dangling: bool | None = None
    names: list[str] = []
    for f in filters:
        key, _, value = f.partition("=")
        if key == "dangling" and value.lower() in ("true", "1", "false", "0"):
            dangling = value.lower() in ("true", "1")
        elif key == "name":
            names.append(value)
        else:
            raise UsageError(f"invalid filter '{f}'")
    found = service(ctx).list(dangling=dangling)
    if names:
        found = [v for v in found if any(n in v.name for n in names)]
    if quiet:
        for v in found:
            click.echo(v.name)
        return
    rows = [
        VolumeRow(
            driver="local",
            name=v.name,
            mountpoint=str(v.mountpoint),
            labels=",".join(f"{k}={val}" for k, val in v.labels.items()),
            scope="local",
        )
        for v in found
    ]
    emit_rows(VolumeRow, rows, fmt, sys.stdout)  # type: ignore[arg-type]


@volume_group.command("inspect")
@click.argument("names", nargs=-1, required=True)
@click.pass_context
def inspect_cmd(ctx: click.Context, names: tuple[str, ...]) -> None:
    """Display detailed information on one or more volumes."""
    from pycore.ui.output import emit_json

    svc = service(ctx)
    emit_json([svc.get(n).inspect() for n in names], sys.stdout)


@volume_group.command("rm")
@click.option("-f", "--force", is_flag=True, help="Do not fail on a missing volume.")
@click.argument("names", nargs=-1, required=True)
@click.pass_context
def rm_cmd(ctx: click.Context, force: bool, names: tuple[str, ...]) -> None:
    """Remove one or more volumes (refused while a container uses one)."""
    svc = service(ctx)
    for n in names:
        svc.remove(n, force=force)
        click.echo(n)


@volume_group.command("prune")
@click.option("-a", "--all", "prune_all", is_flag=True, help="Also unused named volumes.")
@click.option("-f", "--force", is_flag=True, help="Do not prompt for confirmation.")
@click.pass_context
def prune_cmd(ctx: click.Context, prune_all: bool, force: bool) -> None:
    """Remove unused anonymous volumes (with --all, every unused volume)."""
    from pycore.ui.output import human_size

    if not force and sys.stdin.isatty():
        click.confirm(
            "WARNING! This will remove anonymous local volumes not used by at least one "
            "container.\nAre you sure you want to continue?",
            abort=True,
        )
    gone, size = service(ctx).prune(all=prune_all)
    if gone:
        click.echo("Deleted Volumes:")
        for n in gone:
            click.echo(n)
        click.echo("")
    click.echo(f"Total reclaimed space: {human_size(size)}")
