"""`system` commands: `system df` (disk usage) and `system check [--repair]`."""

from __future__ import annotations

import sys

import click

from pycore.cli.app import cli
from pycore.cli.images import FORMAT_OPTION, image_service
from pycore.structs import struct
from pycore.ui.output import column


@cli.group("system")
def system_group() -> None:
    """Manage pycore's state."""


@struct(frozen=True, slots=True)
class DiskUsageRow:
    type: str = column("TYPE")
    total_count: int = column("TOTAL")
    active: int = column("ACTIVE")
    size: str = column("SIZE")
    reclaimable: str = column("RECLAIMABLE")
    size_bytes: int = column()
    reclaimable_bytes: int = column()


@system_group.command("df")
@FORMAT_OPTION
@click.pass_context
def df_cmd(ctx: click.Context, fmt: str) -> None:
    """Show disk usage."""
    from pycore.system import disk_usage
    from pycore.ui.output import emit_rows, human_size

    rows = []
    for u in disk_usage(image_service(ctx)):
        pct = f" ({100 * u.reclaimable // u.size}%)" if u.size else ""
        rows.append(
            DiskUsageRow(
                u.type,
                u.total,
                u.active,
                human_size(u.size),
                human_size(u.reclaimable) + pct,
                u.size,
                u.reclaimable,
            )
        )
    emit_rows(DiskUsageRow, rows, "json" if fmt == "json" else "table", sys.stdout)


@struct(frozen=True, slots=True)
class ProblemRow:
    kind: str = column("KIND")
    subject: str = column("SUBJECT")
    detail: str = column("DETAIL")
    repaired: bool = column("REPAIRED")


@system_group.command("check")
@click.option("--repair", is_flag=True, help="Remove corrupt and orphaned content.")
@FORMAT_OPTION
@click.pass_context
def check_cmd(ctx: click.Context, repair: bool, fmt: str) -> None:
    """Verify every blob and layer; exit 1 when problems remain."""
    from pycore.ui.output import emit_json, row_to_json, table_of

    report = image_service(ctx).check(repair=repair)
    rows = [ProblemRow(p.kind, p.subject, p.detail, p.repaired) for p in report.problems]
    if fmt == "json":
        emit_json(
            {
                "Ok": report.ok,
                "ImagesChecked": report.images_checked,
                "BlobsChecked": report.blobs_checked,
                "LayersChecked": report.layers_checked,
                "Problems": [row_to_json(r) for r in rows],
            },
            sys.stdout,
        )
    else:
        if rows:
            click.echo(table_of(ProblemRow, rows), nl=False)
        counts = (
            f"{report.images_checked} images, {report.blobs_checked} blobs, "
            f"{report.layers_checked} layers checked"
        )
        if report.ok:
            click.echo(f"{'All problems repaired' if rows else 'No problems found'} ({counts})")
        else:
            left = sum(not p.repaired for p in report.problems)
            hint = "" if repair else "; run 'pycore system check --repair'"
            click.echo(f"{left} problems found ({counts}){hint}", err=True)
    if not report.ok:
        ctx.exit(1)
