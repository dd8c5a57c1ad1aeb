"""`python -m pycore` runs the CLI."""

from pycore.cli import entry

entry()
