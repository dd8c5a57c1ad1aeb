"""Commands on a container's filesystem and record: `cp`, `diff`, `export`, `commit`, `rename`
and `container prune` (and the same under `container`). Each parses its arguments, calls
`pycore.runtime.fsops` / `pycore.runtime.housekeeping` and renders."""

from __future__ import annotations

import contextlib
import os
import sys

import click

from pycore.cli.app import cli
from pycore.cli.containers import container_group, service


def _register(cmd: click.Command, *, top: bool = True) -> click.Command:
    if top:
        cli.add_command(cmd)
    container_group.add_command(cmd)
    return cmd


def _split(arg: str) -> tuple[str | None, str]:
    """`CTR:PATH` → (CTR, PATH); a local path (absolute, relative with `./`, or without a
    colon) → (None, PATH)."""
    if arg == "-" or arg.startswith(("/", ".")) or ":" not in arg:
        return None, arg
    ctr, _, path = arg.partition(":")
    return ctr, path


@click.command("cp")
@click.option("-a", "--archive", is_flag=True, help="Keep uid/gid of the source.")
@click.option("-L", "--follow-link", is_flag=True, help="Follow a symlink in SRC.")
@click.argument("src")
@click.argument("dest")
@click.pass_context
def cp_cmd(ctx: click.Context, archive: bool, follow_link: bool, src: str, dest: str) -> None:
    """Copy files between a container and the host: CTR:SRC DEST, SRC CTR:DEST; `-` is a tar
    stream on stdin/stdout."""
    from pycore.errors import UsageError
    from pycore.runtime import fsops

    (sc, sp), (dc, dp) = _split(src), _split(dest)
    if (sc is None) == (dc is None):
        raise UsageError("copying between containers or between host paths is not supported")
    svc = service(ctx)
    if sc is not None:
        c = svc.get(sc)
        if dp == "-":
            fsops.copy_out_tar(c, sp, sys.stdout.buffer, follow=follow_link)
            sys.stdout.flush()
        else:
            fsops.copy_out(c, sp, dp, archive=archive, follow=follow_link)
        return
    assert dc is not None
    c = svc.get(dc)
    if sp == "-":
        fsops.copy_in_tar(c, sys.stdin.buffer, dp, svc.store)
    else:
        fsops.copy_in(c, sp, dp, archive=archive, follow=follow_link)


@click.command("diff")
@click.argument("container")
@click.pass_context
def diff_cmd(ctx: click.Context, container: str) -> None:
    """Inspect changes to files or directories on a container's filesystem."""
    from pycore.runtime import fsops

    for change in fsops.diff(service(ctx).get(container)):
        click.echo(str(change))


@click.command("export")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to a file.")
@click.argument("container")
@click.pass_context
def export_cmd(ctx: click.Context, output: str | None, container: str) -> None:
    """Export a container's filesystem as a tar archive."""
    from pycore.errors import UsageError
    from pycore.runtime import fsops

    c = service(ctx).get(container)
    if output is None:
        if sys.stdout.isatty():
            raise UsageError("cowardly refusing to save to a terminal. Use the -o flag or redirect")
        fsops.export(c, sys.stdout.buffer)
        sys.stdout.flush()
        return
    tmp = f"{output}.tmp-pycore"
    try:
        with open(tmp, "wb") as f:
            fsops.export(c, f)
        os.rename(tmp, output)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@click.command("commit")
@click.option("-a", "--author", help="Author (e.g. 'Jane <jane@example.com>').")
@click.option("-c", "--change", "changes", multiple=True, help="Dockerfile instruction.")
@click.option("-m", "--message", help="Commit message.")
@click.option("-p", "--pause", is_flag=True, default=True, help="Accepted; pycore never pauses.")
@click.argument("container")
@click.argument("reference", required=False)
@click.pass_context
def commit_cmd(
    ctx: click.Context,
    author: str | None,
    changes: tuple[str, ...],
    message: str | None,
    pause: bool,
    container: str,
    reference: str | None,
) -> None:
    """Create a new image from a container's changes."""
    from pycore.runtime import fsops

    svc = service(ctx)
    rec = fsops.commit(
        svc.store,
        svc.get(container),
        reference,
        changes=changes,
        message=message,
        author=author,
    )
    click.echo(str(rec.config))


@click.command("rename")
@click.argument("container")
@click.argument("new_name")
@click.pass_context
def rename_cmd(ctx: click.Context, container: str, new_name: str) -> None:
    """Rename a container."""
    from pycore.runtime import housekeeping

    housekeeping.rename(service(ctx), container, new_name)


@click.command("prune")
@click.option("-f", "--force", is_flag=True, help="Do not prompt for confirmation.")
@click.pass_context
def prune_cmd(ctx: click.Context, force: bool) -> None:
    """Remove all stopped containers."""
    from pycore.runtime import housekeeping

    if not force and sys.stdin.isatty():
        click.confirm(
            "WARNING! This will remove all stopped containers.\nAre you sure you want to continue?",
            abort=True,
        )
    gone = housekeeping.prune(service(ctx))
    if gone:
        click.echo("Deleted Containers:")
        for cid in gone:
            click.echo(cid)


for _cmd in (cp_cmd, diff_cmd, export_cmd, commit_cmd, rename_cmd):
    _register(_cmd)
_register(prune_cmd, top=False)
