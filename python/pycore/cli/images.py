"""Image commands: `images`, `image ls|inspect|rm|prune|tag`, `tag`, `rmi`, `system df|check`.

Each parses its arguments, calls `pycore.image.ImageService` and renders through `pycore.ui`.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from pycore.cli.app import cli, settings
from pycore.structs import struct
from pycore.ui.output import FORMATS, column

if TYPE_CHECKING:
    from pycore.image import Image, ImageService, RemoveEvent

FORMAT_OPTION = click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="table",
    show_default=True,
    help="Output format.",
)


def image_service(ctx: click.Context) -> ImageService:
    """The ImageService of this invocation's store, with the containers' `in_use` hook so that
    every image command (rmi, image prune) spares an image a container uses."""
    from pycore.image import ImageService
    from pycore.runtime.containers import ContainerService
    from pycore.runtime.housekeeping import image_in_use
    from pycore.store.store import Store

    store = Store.open(settings(ctx).root)
    return ImageService(store, in_use=image_in_use(ContainerService(store)))


# -- images / image ls -----------------------------------------------------------------------


@struct(frozen=True, slots=True)
class ImageRow:
    """One line of `pycore images`: one (repository, tag) of an image."""

    repository: str = column("REPOSITORY")
    tag: str = column("TAG")
    digest: str = column("DIGEST")
    id: str = column("IMAGE ID", json_name="ID")
    created_since: str = column("CREATED")
    size: str = column("SIZE")
    created_at: str = column()
    size_bytes: int = column()


def image_rows(
    images: list[Image], *, no_trunc: bool = False, now: datetime | None = None
) -> list[ImageRow]:
    """The rows `pycore images` shows for `images`: one per tag, `<none>` for untagged."""
    from pycore.ui.output import human_duration, human_size

    now = now or datetime.now(UTC)
    rows = []
    for img in images:
        created = img.created_at
        since = f"{human_duration((now - created).total_seconds())} ago" if created else "N/A"
        at = created.strftime("%Y-%m-%d %H:%M:%S %z %Z") if created else ""
        image_id = str(img.id) if no_trunc else img.short_id
        pairs = [(r.familiar_repository, r.tag or "<none>") for r in img.names]
        for repo, tag in pairs or [("<none>", "<none>")]:
            digest = f"{img.manifest_digest}" if repo != "<none>" else "<none>"
            rows.append(
                ImageRow(repo, tag, digest, image_id, since, human_size(img.size), at, img.size)
            )
    return rows


def _parse_filters(filters: tuple[str, ...]) -> tuple[list[str], bool | None]:
    from pycore.errors import UsageError

    references: list[str] = []
    dangling: bool | None = None
    for f in filters:
        key, eq, value = f.partition("=")
        if not eq:
            raise UsageError(f"bad filter {f!r}: expected key=value")
        if key == "reference":
            references.append(value)
        elif key == "dangling" and value.lower() in ("true", "false", "1", "0"):
            dangling = value.lower() in ("true", "1")
        else:
            raise UsageError(f"unsupported filter {f!r} (use dangling=true|false or reference=)")
    return references, dangling


@click.command("images")
@click.argument("repository", required=False)
@click.option("-a", "--all", "show_all", is_flag=True, help="Show intermediate images too.")
@click.option("-q", "--quiet", is_flag=True, help="Only show image ids.")
@click.option("--digests", is_flag=True, help="Show digests.")
@click.option("--no-trunc", is_flag=True, help="Do not truncate ids.")
@click.option("-f", "--filter", "filters", multiple=True, help="dangling=true|false, reference=.")
@FORMAT_OPTION
@click.pass_context
def images_cmd(
    ctx: click.Context,
    repository: str | None,
    show_all: bool,
    quiet: bool,
    digests: bool,
    no_trunc: bool,
    filters: tuple[str, ...],
    fmt: str,
) -> None:
    """List images."""
    from pycore.ui.output import emit_rows

    references, dangling = _parse_filters(filters)
    if repository:
        references.append(repository)
    images = image_service(ctx).list(all=show_all, references=references, dangling=dangling)
    rows = image_rows(images, no_trunc=no_trunc)
    if quiet:
        for image_id in dict.fromkeys(r.id for r in rows):
            click.echo(image_id)
        return
    hide = () if digests else ("digest",)
    emit_rows(ImageRow, rows, "json" if fmt == "json" else "table", sys.stdout, hide=hide)


@cli.group("image")
def image_group() -> None:
    """Manage images."""


cli.add_command(images_cmd)
image_group.add_command(images_cmd, "ls")
image_group.add_command(images_cmd, "list")


# -- inspect ---------------------------------------------------------------------------------


@image_group.command("inspect")
@click.argument("images", nargs=-1, required=True)
@click.pass_context
def inspect_cmd(ctx: click.Context, images: tuple[str, ...]) -> None:
    """Show details of one or more images as a JSON array."""
    from pycore.errors import NotFound
    from pycore.ui.output import emit_json

    service = image_service(ctx)
    found = []
    missing = []
    for name in images:
        try:
            found.append(service.inspect(name))
        except NotFound as e:
            missing.append(e)
    emit_json(found, sys.stdout)
    if missing:
        for err in missing:
            click.echo(f"pycore: {err}", err=True)
        ctx.exit(1)


# -- tag -------------------------------------------------------------------------------------


@cli.command("tag")
@click.argument("source")
@click.argument("target")
@click.pass_context
def tag_cmd(ctx: click.Context, source: str, target: str) -> None:
    """Create a tag TARGET that refers to the image SOURCE."""
    image_service(ctx).tag(source, target)


image_group.add_command(tag_cmd, "tag")


# -- rmi / image rm --------------------------------------------------------------------------


def _echo_events(events: list[RemoveEvent]) -> None:
    for event in events:
        click.echo(str(event))


@cli.command("rmi")
@click.argument("images", nargs=-1, required=True)
@click.option("-f", "--force", is_flag=True, help="Remove even when tagged in several repos.")
@click.pass_context
def rmi_cmd(ctx: click.Context, images: tuple[str, ...], force: bool) -> None:
    """Remove one or more images."""
    from pycore.errors import PycoreError

    service = image_service(ctx)
    failed = 0
    for name in images:
        try:
            _echo_events(service.remove(name, force=force))
        except PycoreError as e:
            click.echo(f"pycore: {e}", err=True)
            failed = failed or e.exit_code
    if failed:
        ctx.exit(1)


image_group.add_command(rmi_cmd, "rm")


# -- image prune -----------------------------------------------------------------------------


@image_group.command("prune")
@click.option("-a", "--all", "prune_all", is_flag=True, help="Remove all unused images.")
@click.option("-f", "--force", is_flag=True, help="Do not prompt for confirmation.")
@click.pass_context
def prune_cmd(ctx: click.Context, prune_all: bool, force: bool) -> None:
    """Remove unused images (by default only dangling ones)."""
    from pycore.ui.output import human_size

    if not force and sys.stdin.isatty():
        what = "all images without at least one container" if prune_all else "all dangling images"
        click.confirm(
            f"WARNING! This will remove {what}.\nAre you sure you want to continue?", abort=True
        )
    report = image_service(ctx).prune(all=prune_all)
    if report.events:
        click.echo("Deleted Images:")
        _echo_events(list(report.events))
        click.echo("")
    click.echo(f"Total reclaimed space: {human_size(report.reclaimed)}")
