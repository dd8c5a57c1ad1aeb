"""The root click group and its global options (`--root`, `--debug`).

Command modules are imported only when one of their commands is invoked (`LAZY_COMMANDS`), so
`pycore run` does not pay for the registry client, archives or the builder at start-up.
"""

from __future__ import annotations

import importlib

import click

import pycore
from pycore.settings import Settings

# Top-level command or group name -> the `pycore.cli` modules that add to it. A test checks this
# table against what the modules really register, so a new command cannot be left out.
LAZY_COMMANDS: dict[str, tuple[str, ...]] = {
    "commit": ("container_fs",),
    "container": ("containers", "container_fs", "container_ops", "container_cleanup"),
    "cp": ("container_fs",),
    "create": ("containers",),
    "diff": ("container_fs",),
    "exec": ("container_ops",),
    "export": ("container_fs",),
    "image": ("images", "transfer"),
    "images": ("images",),
    "import": ("transfer",),
    "inspect": ("containers",),
    "kill": ("containers",),
    "layer": ("layer",),
    "load": ("transfer",),
    "login": ("registry",),
    "logout": ("registry",),
    "logs": ("containers",),
    "network": ("network",),
    "port": ("network",),
    "ps": ("containers",),
    "pull": ("registry",),
    "pause": ("container_ops",),
    "push": ("registry",),
    "rename": ("container_fs",),
    "restart": ("container_ops",),
    "rm": ("containers",),
    "rmi": ("images",),
    "run": ("containers",),
    "save": ("transfer",),
    "start": ("containers",),
    "stats": ("container_ops",),
    "stop": ("containers",),
    "system": ("system",),
    "tag": ("images",),
    "top": ("container_ops",),
    "unpause": ("container_ops",),
    "volume": ("volumes",),
    "wait": ("containers",),
}


class LazyGroup(click.Group):
    """A group whose subcommands are registered by importing their module on first use."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        for module in LAZY_COMMANDS.get(cmd_name, ()):
            importlib.import_module(f"pycore.cli.{module}")
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        load_all()
        return super().list_commands(ctx)


def load_all() -> None:
    """Import every command module (for `--help` and for the table's test)."""
    for module in sorted({m for mods in LAZY_COMMANDS.values() for m in mods}):
        importlib.import_module(f"pycore.cli.{module}")


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--root",
    type=click.Path(file_okay=False),
    default=None,
    help="State directory (default: $PYCORE_ROOT or /var/lib/pycore).",
)
@click.option("--debug", is_flag=True, default=False, help="Show tracebacks for errors.")
# The version as the package says it, not its installed metadata (importlib.metadata scans
# sys.path: ~25 ms of `pycore --version`); a unit test keeps it equal to pyproject.toml's.
@click.version_option(version=pycore.__version__, prog_name="pycore")
@click.pass_context
def cli(ctx: click.Context, root: str | None, debug: bool) -> None:
    """pycore: a daemonless container engine."""
    ctx.obj = Settings.from_env(root=root, debug=debug or None)


def settings(ctx: click.Context) -> Settings:
    """The Settings built by the root group for this invocation."""
    obj = ctx.find_root().obj
    assert isinstance(obj, Settings)
    return obj
