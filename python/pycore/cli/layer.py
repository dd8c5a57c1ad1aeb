"""`layer` commands for build farms: `layer unpack BLOB DEST` and `layer pack DIR OUT`.

`unpack --format` picks how whiteouts land (`overlay` or `flat`); `--json` prints the digests
as JSON. `pack --format json` (or `--json`) does the same for pack.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from pycore.cli.app import cli
from pycore.errors import PycoreError


@cli.group("layer")
def layer_group() -> None:
    """Verify, extract and pack layer blobs."""


def _os_error(what: str, e: OSError) -> PycoreError:
    # The native layer gives strerror as "op: description" and the path as filename.
    op, _, desc = (e.strerror or str(e)).rpartition(": ")
    where = " ".join(x for x in (op, str(e.filename or "")) if x)
    return PycoreError(f"{what}: {where}: {desc}" if where else f"{what}: {desc}")


def _emit(d: object, as_json: bool) -> None:
    from pycore.native import LayerDigests
    from pycore.ui.output import emit_json

    assert isinstance(d, LayerDigests)
    fields = {
        "digest": d.digest,
        "diff_id": d.diff_id,
        "size": d.size,
        "compression": d.compression,
        "entries": d.entries,
    }
    if as_json:
        emit_json(fields, sys.stdout)
        return
    for k, v in fields.items():
        click.echo(f"{k + ':':<13}{v}")


@layer_group.command("unpack")
@click.argument("blob", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@click.option("--digest", help="Expected sha256 digest of the blob.")
@click.option("--size", type=click.IntRange(min=0), help="Expected size of the blob in bytes.")
@click.option("--diff-id", help="Expected sha256 digest of the uncompressed tar.")
@click.option(
    "--format",
    "whiteouts",
    type=click.Choice(["overlay", "flat"]),
    default="overlay",
    show_default=True,
    help="overlay: whiteouts as overlayfs expects them; flat: apply them to DEST.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the digests as JSON.")
def unpack_cmd(
    blob: Path,
    dest: Path,
    digest: str | None,
    size: int | None,
    diff_id: str | None,
    whiteouts: str,
    as_json: bool,
) -> None:
    """Verify the layer BLOB and extract it into DEST (created if missing)."""
    from pycore import layer
    from pycore.ui.progress import Progress

    progress = Progress.for_stream(sys.stderr)
    report = None
    task = None
    if progress.enabled and blob.exists():
        task = progress.task(f"unpack {blob.name}", total=blob.stat().st_size)
        report = task.update
    fmt: layer.Whiteouts = "flat" if whiteouts == "flat" else "overlay"
    try:
        d = layer.unpack(
            blob, dest, digest=digest, size=size, diff_id=diff_id, whiteouts=fmt, progress=report
        )
    except OSError as e:
        raise _os_error(f"unpack {blob}", e) from e
    if task is not None:
        task.done(f"{d.entries} entries")
    _emit(d, as_json)


@layer_group.command("pack")
@click.argument("src", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--compression",
    type=click.Choice(["gzip", "zstd", "none"]),
    default="gzip",
    show_default=True,
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
def pack_cmd(src: Path, out: Path, compression: str, fmt: str, as_json: bool) -> None:
    """Pack the directory SRC into the new layer blob OUT (deterministic)."""
    from pycore import layer

    comp: layer.Compression = (
        "zstd" if compression == "zstd" else "none" if compression == "none" else "gzip"
    )
    try:
        d = layer.pack(src, out, compression=comp)
    except OSError as e:
        raise _os_error(f"pack {src}", e) from e
    _emit(d, as_json or fmt == "json")
