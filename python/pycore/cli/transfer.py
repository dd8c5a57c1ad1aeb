"""Images in and out of files: `load`, `save`, `import`, `image bootstrap` (and the same under
`image`). Each parses its arguments, calls `pycore.archive`, `pycore.importer` or
`pycore.bootstrap`, and prints what Docker prints."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, cast

import click

from pycore.cli.app import cli, settings
from pycore.cli.images import image_group
from pycore.errors import UsageError
from pycore.store.index import ImageRecord
from pycore.store.store import Store

if TYPE_CHECKING:
    from pycore.archive import Format

FORMAT_CHOICES = ("docker-archive", "oci-archive", "oci-dir")


def _store(ctx: click.Context) -> Store:
    return Store.open(settings(ctx).root)


def _status(quiet: bool) -> Callable[[str], None] | None:
    """Progress lines on stderr, only when it is a terminal (never in pipes and logs)."""
    if quiet or not sys.stderr.isatty():
        return None
    return lambda line: click.echo(line, err=True)


def _loaded_lines(records: list[ImageRecord]) -> list[str]:
    from pycore.reference import Reference

    lines = []
    for record in records:
        if not record.names:
            lines.append(f"Loaded image ID: {record.config}")
        lines += [f"Loaded image: {Reference.parse(n).familiar}" for n in record.names]
    return lines


@cli.command("load")
@click.option(
    "-i",
    "--input",
    "source",
    type=click.Path(exists=True, path_type=Path),
    help="Read from a tar archive file (or an OCI layout directory) instead of stdin.",
)
@click.option("-q", "--quiet", is_flag=True, help="Suppress the progress output.")
@click.pass_context
def load_cmd(ctx: click.Context, source: Path | None, quiet: bool) -> None:
    """Load images from a docker-archive, oci-archive (plain or gzip) or OCI layout."""
    from pycore import archive

    if source is None and sys.stdin.isatty():
        raise UsageError("requested load from stdin, but stdin is a terminal; use -i FILE")
    records = archive.load(
        _store(ctx), source if source is not None else sys.stdin.buffer, _status(quiet)
    )
    for line in _loaded_lines(records):
        click.echo(line)


@cli.command("save")
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write to this file.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMAT_CHOICES),
    default="docker-archive",
    show_default=True,
    help="Archive format (oci-dir writes an OCI layout directory).",
)
@click.argument("images", nargs=-1, required=True)
@click.pass_context
def save_cmd(ctx: click.Context, output: Path | None, fmt: str, images: tuple[str, ...]) -> None:
    """Save one or more images to a tar archive (stdout by default) or an OCI layout dir."""
    from pycore import archive

    store = _store(ctx)
    chosen = cast("Format", fmt)  # click.Choice checked it
    if output is not None:
        archive.save(store, list(images), output, format=chosen)
        return
    if sys.stdout.isatty():
        raise UsageError("cowardly refusing to save to a terminal; use -o or redirect stdout")
    archive.save(store, list(images), sys.stdout.buffer, format=chosen)
    sys.stdout.buffer.flush()


@cli.command("import")
@click.argument("file")
@click.argument("reference", required=False)
@click.option(
    "-c",
    "--change",
    "changes",
    multiple=True,
    help="Apply a Dockerfile instruction (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ...).",
)
@click.option("-m", "--message", help="Commit message for the image's history.")
@click.pass_context
def import_cmd(
    ctx: click.Context,
    file: str,
    reference: str | None,
    changes: tuple[str, ...],
    message: str | None,
) -> None:
    """Import a root filesystem tarball (FILE, or - for stdin) as a one-layer image."""
    from pycore.bootstrap import rfc3339
    from pycore.importer import import_rootfs
    from pycore.store.commit import now_rfc3339

    epoch = settings(ctx).source_date_epoch
    created = rfc3339(epoch) if epoch is not None else now_rfc3339()
    source = sys.stdin.buffer if file == "-" else Path(file)
    record = import_rootfs(_store(ctx), source, reference, list(changes), message, created=created)
    click.echo(str(record.config))


@image_group.command("bootstrap")
@click.argument("what", metavar="busybox|debian[:SUITE]")
@click.option("-t", "--tag", help="Name the image (default: busybox:latest, debian:SUITE).")
@click.option("--mirror", help="Debian mirror for debootstrap (default: the host's apt mirror).")
@click.option("-q", "--quiet", is_flag=True, help="Suppress the progress output.")
@click.pass_context
def bootstrap_cmd(
    ctx: click.Context, what: str, tag: str | None, mirror: str | None, quiet: bool
) -> None:
    """Make a base image offline: busybox from busybox-static, debian via debootstrap."""
    from pycore.bootstrap import bootstrap

    record = bootstrap(
        _store(ctx),
        what,
        tag=tag,
        mirror=mirror,
        progress=_status(quiet),
        source_date_epoch=settings(ctx).source_date_epoch,
    )
    click.echo(str(record.config))


image_group.add_command(load_cmd, "load")
image_group.add_command(save_cmd, "save")
image_group.add_command(import_cmd, "import")
