"""The lazy command table in `pycore.cli.app` must match what the modules really register."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click

from pycore.cli import app


def test_lazy_table_names_every_module_that_adds_to_each_command() -> None:
    app.load_all()
    owners: dict[str, set[str]] = {}
    for name, cmd in app.cli.commands.items():
        mods = owners.setdefault(name, set())
        if cmd.callback is not None:
            mods.add(cmd.callback.__module__.rsplit(".", 1)[-1])
        if isinstance(cmd, click.Group):
            for sub in cmd.commands.values():
                if sub.callback is not None:
                    mods.add(sub.callback.__module__.rsplit(".", 1)[-1])
    owners = {k: v - {"app"} for k, v in owners.items()}
    assert owners == {k: set(v) for k, v in app.LAZY_COMMANDS.items()}


def test_run_path_does_not_import_unrelated_command_modules() -> None:
    code = (
        "import sys\n"
        "from pycore.cli import app\n"
        "app.cli.get_command(None, 'ps')\n"
        "print(sorted(m for m in sys.modules if m.startswith('pycore.cli.')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert "pycore.cli.containers" in out
    for other in ("registry", "transfer", "layer"):
        assert f"pycore.cli.{other}'" not in out


def test_help_lists_commands_from_every_module() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "pycore", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for name in ("run", "images", "pull", "load", "layer", "system"):
        assert f"  {name}" in out


def test_the_version_is_the_package_version() -> None:
    """`pycore --version` says `pycore.__version__` (no package metadata lookup), which is
    the version pyproject.toml gives the wheel."""
    import tomllib

    import pycore

    pyproject = Path(__file__).parents[2] / "pyproject.toml"
    version = tomllib.loads(pyproject.read_text())["project"]["version"]
    assert pycore.__version__ == version
    out = subprocess.run(
        [sys.executable, "-m", "pycore", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == f"pycore, version {version}"
