"""Registry commands: `pull`, `push`, `login`, `logout`, over `pycore.registry`.

Output: the per-layer progress is drawn on stderr when it is a terminal (`--progress tty`),
else written as plain status lines on stdout (`plain`), as Docker does; `--progress json`
writes one JSON object per event and line on stdout, ending with `{"status": "done", ...}` or
`{"error": ...}`. The last stdout line of a plain or quiet run is the image reference.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from pycore.cli.app import cli, settings
from pycore.errors import PycoreError, UsageError

if TYPE_CHECKING:
    from pycore.ui.transfer import TransferView

PROGRESS_CHOICES = ("auto", "tty", "plain", "json")


def _progress_option(f: click.decorators.FC) -> click.decorators.FC:
    return click.option(
        "--progress",
        type=click.Choice(PROGRESS_CHOICES),
        default="auto",
        show_default=True,
        help="auto: tty on a terminal, else plain; json: one JSON object per event on stdout.",
    )(f)


def _view(progress: str, quiet: bool) -> TransferView:
    from pycore.ui.transfer import TransferView

    if progress == "json":
        return TransferView("json", sys.stdout)
    if quiet:
        return TransferView("quiet", sys.stdout)
    if progress == "tty" or (progress == "auto" and _isatty(sys.stderr)):
        return TransferView("tty", sys.stderr)
    return TransferView("plain", sys.stdout)


@contextmanager
def _transfer(progress: str, quiet: bool) -> Iterator[TransferView]:
    """The progress view of one pull or push: closed whatever happens, and with
    `--progress json` a failure is reported as a last `{"error": ...}` line before it is raised."""
    view = _view(progress, quiet)
    try:
        yield view
    except PycoreError as e:
        view.close()
        if progress == "json":
            _json_line({"error": str(e)})
        raise
    view.close()


def _isatty(stream: object) -> bool:
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError):
        return False


def _json_line(value: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(value) + "\n")
    sys.stdout.flush()


@cli.command("pull")
@click.option(
    "--platform",
    default=None,
    metavar="OS/ARCH[/VARIANT]",
    help="Platform to pick from a multi-platform image (default: this host's).",
)
@click.option("-q", "--quiet", is_flag=True, help="Print only the image reference.")
@_progress_option
@click.argument("reference")
@click.pass_context
def pull_cmd(
    ctx: click.Context, platform: str | None, quiet: bool, progress: str, reference: str
) -> None:
    """Download an image from a registry."""
    from pycore.registry import RegistryOptions, parse_platform, pull
    from pycore.store.store import Store

    s = settings(ctx)
    with _transfer(progress, quiet) as view:
        want = parse_platform(platform) if platform else None
        result = pull(
            Store.open(s.root),
            reference,
            RegistryOptions.from_settings(s),
            platform=want,
            listener=view,
        )
    if progress == "json":
        _json_line(
            {
                "status": "done",
                "reference": result.name,
                "digest": str(result.resolved),
                "manifest": str(result.digest),
                "id": str(result.record.config),
                "downloaded": result.downloaded,
            }
        )
    else:
        click.echo(result.name)


@cli.command("push")
@click.option("-q", "--quiet", is_flag=True, help="Print only the pushed reference.")
@_progress_option
@click.argument("reference")
@click.pass_context
def push_cmd(ctx: click.Context, quiet: bool, progress: str, reference: str) -> None:
    """Upload an image to a registry (by tag, or by digest with NAME@DIGEST)."""
    from pycore.registry import RegistryOptions, push
    from pycore.store.store import Store

    s = settings(ctx)
    with _transfer(progress, quiet) as view:
        result = push(
            Store.open(s.root), reference, RegistryOptions.from_settings(s), listener=view
        )
    if progress == "json":
        _json_line(
            {
                "status": "done",
                "reference": result.name,
                "digest": str(result.digest),
                "size": result.size,
                "uploaded": result.uploaded,
            }
        )
    else:
        click.echo(result.name)


@cli.command("login")
@click.option("-u", "--username", default=None, help="User name.")
@click.option("-p", "--password", default=None, help="Password (prefer --password-stdin).")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@click.argument("server", required=False, default="docker.io")
@click.pass_context
def login_cmd(
    ctx: click.Context,
    username: str | None,
    password: str | None,
    password_stdin: bool,
    server: str,
) -> None:
    """Log in to a registry; credentials go to the Docker-compatible config.json."""
    from pycore.registry import RegistryOptions, login

    if password is not None and password_stdin:
        raise UsageError("--password and --password-stdin are mutually exclusive")
    if password_stdin:
        if not username:
            raise UsageError("--password-stdin needs --username")
        password = sys.stdin.read().rstrip("\r\n")
    elif password is not None:
        click.echo(
            "WARNING! Using --password via the CLI is insecure. Use --password-stdin.", err=True
        )
    interactive = _isatty(sys.stdin)
    if not username:
        if not interactive:
            raise UsageError("login needs --username when stdin is not a terminal")
        username = click.prompt("Username", err=True)
    if password is None:
        if not interactive:
            raise UsageError("login needs --password-stdin when stdin is not a terminal")
        password = click.prompt("Password", hide_input=True, err=True)
    s = settings(ctx)
    login(RegistryOptions.from_settings(s), server, username or "", password or "")
    click.echo("Login Succeeded")


@cli.command("logout")
@click.argument("server", required=False, default="docker.io")
@click.pass_context
def logout_cmd(ctx: click.Context, server: str) -> None:
    """Forget the credentials stored for a registry."""
    from pycore.registry import RegistryOptions, logout

    registry, found = logout(RegistryOptions.from_settings(settings(ctx)), server)
    if found:
        click.echo(f"Removing login credentials for {registry}")
    else:
        click.echo(f"Not logged in to {registry}")
