"""`pycore container cleanup ID`: not for people. A container's monitor runs it (its exit
command, as podman's conmon runs `podman container cleanup`) once the container is finished
for good, to release its network endpoint without waiting for another pycore command; for an
`--rm` container, with the anonymous volumes to remove (`--volume`, see `runtime.volumes`).
The command line a monitor runs (`runtime.exitcmd`) is parsed without click
(`cli.runflags.fast_command`); this command is what any other spelling of it goes through."""

from __future__ import annotations

import click

from pycore.cli.containers import container_group, service


@container_group.command("cleanup", hidden=True)
@click.option("--volume", "volumes", multiple=True, help="An anonymous volume to remove.")
@click.argument("container_id")
@click.pass_context
def cleanup_cmd(ctx: click.Context, container_id: str, volumes: tuple[str, ...]) -> None:
    """Release what a finished container held (run by its monitor)."""
    service(ctx).cleanup(container_id, volumes=volumes)
