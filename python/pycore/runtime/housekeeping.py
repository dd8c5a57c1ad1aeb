"""`rename` and `container prune`, over the container service's records; and the `in_use`
hook that makes `rmi` refuse an image a container still uses."""

from __future__ import annotations

from collections.abc import Callable

from pycore.errors import Conflict
from pycore.runtime import records
from pycore.runtime.containers import ContainerService
from pycore.runtime.options import check_name
from pycore.store.index import ImageRecord


def rename(svc: ContainerService, ref: str, new: str) -> None:
    """Give a container a new name, checked free under the store lock (Docker's messages)."""
    new = check_name(new)
    c = svc.get(ref)
    if c.name == new:
        raise Conflict("Renaming a container with the same name as its current name")
    with svc.store.locked():
        for other in svc.list(all=True):
            if other.name == new:
                raise Conflict(
                    f'Conflict. The container name "/{new}" is already in use by container '
                    f'"{other.id}". You have to remove (or rename) that container to be able '
                    "to reuse that name."
                )
        rec = records.read_config(c.dir)
        if rec is None:
            raise Conflict(f"container {c.short_id} was removed meanwhile")
        rec["Name"] = new
        records.write_config(c.dir, rec)


def prune(svc: ContainerService) -> list[str]:
    """Remove every container that is not running; their ids."""
    gone = []
    for c in svc.list(all=True):
        if c.running:
            continue
        try:
            svc.remove(c.id)
        except Conflict:
            continue
        gone.append(c.id)
    return gone


def image_in_use(svc: ContainerService) -> Callable[[ImageRecord], str | None]:
    """For `ImageService(in_use=...)`: why an image may not be removed (Docker's wording)."""

    def check(record: ImageRecord) -> str | None:
        for c in svc.list(all=True):
            if c.image_id == str(record.config):
                state = "running" if c.running else "stopped"
                return f"image is being used by {state} container {c.short_id}"
        return None

    return check
