"""`pycore container cleanup ID`: not for people. A container's monitor runs it (its exit
command, as podman's conmon runs `podman container cleanup`) once the container is finished
for good, to release its network endpoint without waiting for another pycore command."""

from __future__ import annotations

import click

from pycore.cli.containers import container_group, service


@container_group.command("cleanup", hidden=True)
@click.argument("container_id")
@click.pass_context
def cleanup_cmd(ctx: click.Context, container_id: str) -> None:
    """Release what a finished container held (run by its monitor)."""
    service(ctx).cleanup(container_id)
