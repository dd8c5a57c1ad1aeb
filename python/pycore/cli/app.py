"""The root click group and its global options (`--root`, `--debug`)."""

from __future__ import annotations

import click

from pycore.settings import Settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--root",
    type=click.Path(file_okay=False),
    default=None,
    help="State directory (default: $PYCORE_ROOT or /var/lib/pycore).",
)
@click.option("--debug", is_flag=True, default=False, help="Show tracebacks for errors.")
@click.version_option(package_name="pycore", prog_name="pycore")
@click.pass_context
def cli(ctx: click.Context, root: str | None, debug: bool) -> None:
    """pycore: a daemonless container engine."""
    ctx.obj = Settings.from_env(root=root, debug=debug or None)


def settings(ctx: click.Context) -> Settings:
    """The Settings built by the root group for this invocation."""
    obj = ctx.find_root().obj
    assert isinstance(obj, Settings)
    return obj


def _register() -> None:
    # Each noun module adds its commands to `cli` when imported.
    from pycore.cli import containers, images, layer, registry, system, transfer  # noqa: F401


_register()
