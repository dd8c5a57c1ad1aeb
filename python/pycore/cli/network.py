"""`network create|ls|inspect|rm|connect|disconnect|prune|cleanup` and `port`, over
`pycore.network.service.NetworkService`."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from pycore.cli.app import cli, settings
from pycore.structs import struct
from pycore.ui.output import FORMATS, column

if TYPE_CHECKING:
    from pycore.network.service import NetworkService


def service(ctx: click.Context) -> NetworkService:
    from pycore.network.service import NetworkService
    from pycore.store.store import Store

    return NetworkService(Store.open(settings(ctx).root))


@cli.group("network")
def network_group() -> None:
    """Manage networks."""


@struct(frozen=True, slots=True)
class NetworkRow:
    """One line of `pycore network ls`."""

    id: str = column("NETWORK ID", json_name="ID")
    name: str = column("NAME")
    driver: str = column("DRIVER")
    scope: str = column("SCOPE")


@network_group.command("create")
@click.option("--subnet", help="Subnet in CIDR format (default: a free one from the pool).")
@click.option("--internal", is_flag=True, help="Restrict external access to the network.")
@click.option("-d", "--driver", default="bridge", help="Only bridge.")
@click.option("-l", "--label", multiple=True, help="Set metadata (key=value).")
@click.argument("name")
@click.pass_context
def create_cmd(
    ctx: click.Context,
    subnet: str | None,
    internal: bool,
    driver: str,
    label: tuple[str, ...],
    name: str,
) -> None:
    """Create a network."""
    from pycore.errors import UsageError

    if driver != "bridge":
        raise UsageError(f"network driver {driver!r} is not supported: only bridge")
    labels = dict(item.partition("=")[::2] for item in label)
    net = service(ctx).create(name, subnet=subnet, internal=internal, labels=labels)
    click.echo(net["Id"])


@network_group.command("ls")
@click.option("-q", "--quiet", is_flag=True, help="Only display network IDs.")
@click.option("--no-trunc", is_flag=True, help="Do not truncate the output.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table")
@click.pass_context
def ls_cmd(ctx: click.Context, quiet: bool, no_trunc: bool, fmt: str) -> None:
    """List networks."""
    from pycore.ui.output import emit_rows

    nets = service(ctx).networks()
    rows = [
        NetworkRow(n["Id"] if no_trunc else n["Id"][:12], n["Name"], "bridge", "local")
        for n in nets
    ]
    rows += [
        NetworkRow("host", "host", "host", "local"),
        NetworkRow("none", "none", "null", "local"),
    ]
    if quiet:
        for r in rows:
            click.echo(r.id)
        return
    emit_rows(NetworkRow, rows, fmt, sys.stdout)  # type: ignore[arg-type]


@network_group.command("inspect")
@click.argument("networks", nargs=-1, required=True)
@click.pass_context
def inspect_cmd(ctx: click.Context, networks: tuple[str, ...]) -> None:
    """Display detailed information on one or more networks."""
    from pycore.ui.output import emit_json

    svc = service(ctx)
    emit_json([svc.inspect(ref) for ref in networks], sys.stdout)


@network_group.command("rm")
@click.argument("networks", nargs=-1, required=True)
@click.pass_context
def rm_cmd(ctx: click.Context, networks: tuple[str, ...]) -> None:
    """Remove one or more networks."""
    svc = service(ctx)
    for ref in networks:
        svc.remove(ref)
        click.echo(ref)


@network_group.command("prune")
@click.option("-f", "--force", is_flag=True, help="Do not prompt (pycore never prompts).")
@click.pass_context
def prune_cmd(ctx: click.Context, force: bool) -> None:
    """Remove every user-defined network no container uses."""
    del force
    gone = service(ctx).prune()
    if gone:
        click.echo("Deleted Networks:")
        for name in gone:
            click.echo(name)


@network_group.command("connect")
@click.option("--alias", multiple=True, help="Network-scoped alias for the container.")
@click.option("--ip", help="IPv4 address.")
@click.argument("network")
@click.argument("container")
@click.pass_context
def connect_cmd(
    ctx: click.Context, alias: tuple[str, ...], ip: str | None, network: str, container: str
) -> None:
    """Connect a running container to a network."""
    service(ctx).connect(network, container, aliases=alias, ip=ip)


@network_group.command("disconnect")
@click.option("-f", "--force", is_flag=True, help="Accepted for Docker compatibility.")
@click.argument("network")
@click.argument("container")
@click.pass_context
def disconnect_cmd(ctx: click.Context, force: bool, network: str, container: str) -> None:
    """Disconnect a container from a network."""
    del force
    service(ctx).disconnect(network, container)


@network_group.command("cleanup")
@click.option("--all", "everything", is_flag=True, help="Also this store's bridges and table.")
@click.pass_context
def cleanup_cmd(ctx: click.Context, everything: bool) -> None:
    """Tear down what exited containers or killed commands left (veths, rules, netns)."""
    svc = service(ctx)
    if everything:
        svc.cleanup_all()
        return
    for cid in svc.cleanup():
        click.echo(cid)


def _port(ctx: click.Context, container: str, private: str | None) -> None:
    from pycore.errors import NotFound
    from pycore.network.ports import describe
    from pycore.runtime.containers import ContainerService
    from pycore.store.store import Store

    store = Store.open(settings(ctx).root)
    c = ContainerService(store).get(container)
    bindings = service(ctx).ports(c.id) if c.running else []
    if private:
        port, _, proto = private.partition("/")
        key = f"{port}/{proto or 'tcp'}"
        bindings = [b for b in bindings if b.key == key]
        if not bindings:
            raise NotFound(f"No public port '{key}' published for {container}")
        for b in bindings:
            click.echo(describe(b))
        return
    for b in bindings:
        click.echo(f"{b.key} -> {describe(b)}")


@cli.command("port")
@click.argument("container")
@click.argument("private", required=False)
@click.pass_context
def port_cmd(ctx: click.Context, container: str, private: str | None) -> None:
    """List port mappings of a container (or the mapping of one port)."""
    _port(ctx, container, private)
