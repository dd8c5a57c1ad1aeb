"""`ps --filter`: Docker's container filters (`status`, `name`, `id`, `ancestor`, `label`,
`exited`), AND between keys and OR between the values of one key, and `--last N`."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Protocol, TypeVar

from pycore.errors import UsageError
from pycore.structs import struct

if TYPE_CHECKING:
    from os import PathLike

    StrPath = str | PathLike[str]

    from pycore.runtime.records import Container

STATUSES = ("created", "restarting", "running", "removing", "paused", "exited", "dead")
KEYS = ("status", "name", "id", "ancestor", "label", "exited")


class Listed(Protocol):
    """What a filter looks at (a `pycore.runtime.containers.Container` fits)."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def image(self) -> str: ...
    @property
    def image_id(self) -> str: ...
    @property
    def created(self) -> str: ...


C = TypeVar("C", bound=Listed)


@struct(frozen=True, slots=True)
class Facts:
    """The facts of one container the filters need beyond its record."""

    status: str
    exit_code: int | None
    labels: Mapping[str, str]


@struct(frozen=True, slots=True)
class Filters:
    """Parsed `--filter key=value` options: key -> accepted values."""

    by_key: Mapping[str, tuple[str, ...]]

    @classmethod
    def parse(cls, items: Sequence[str]) -> Filters:
        found: dict[str, list[str]] = {}
        for item in items:
            key, eq, value = item.partition("=")
            key = key.strip().lower()
            if not eq:
                raise UsageError(f"bad format of filter (expected name=value): {item!r}")
            if key not in KEYS:
                raise UsageError(f"invalid filter '{key}'")
            if key == "status" and value not in STATUSES:
                raise UsageError(f"invalid filter 'status={value}'")
            if key == "exited" and not value.lstrip("-").isdigit():
                raise UsageError(f"invalid filter 'exited={value}'")
            if key == "name":
                try:
                    re.compile(value)
                except re.error as e:
                    raise UsageError(f"invalid filter 'name={value}': {e}") from e
            found.setdefault(key, []).append(value)
        return cls({k: tuple(v) for k, v in found.items()})

    @property
    def wants_all(self) -> bool:
        """A status or exit-code filter looks at stopped containers too, without `-a`."""
        return "status" in self.by_key or "exited" in self.by_key

    def matches(self, c: Listed, facts: Facts) -> bool:
        checks: dict[str, Callable[[str], bool]] = {
            "status": lambda v: facts.status == v,
            "name": lambda v: re.search(v, "/" + c.name) is not None,
            "id": lambda v: c.id.startswith(v),
            "ancestor": lambda v: _is_ancestor(v, c.image, c.image_id),
            "label": lambda v: _has_label(v, facts.labels),
            "exited": lambda v: facts.status == "exited" and facts.exit_code == int(v),
        }
        return all(any(map(checks[k], vals)) for k, vals in self.by_key.items())


def _is_ancestor(value: str, image: str, image_id: str) -> bool:
    """The container was created from `value`: a reference (`busybox` = `busybox:latest`)
    or an image id (full, `sha256:`-prefixed or a prefix of at least 4 hex digits)."""
    bare_id = image_id.removeprefix("sha256:")
    wanted = value.removeprefix("sha256:")
    if len(wanted) >= 4 and re.fullmatch(r"[0-9a-f]+", wanted) and bare_id.startswith(wanted):
        return True

    def norm(ref: str) -> str:
        ref = ref.removeprefix("docker.io/").removeprefix("library/")
        last = ref.rsplit("/", 1)[-1]
        return ref if ":" in last or "@" in last else ref + ":latest"

    return norm(value) == norm(image)


def _has_label(value: str, labels: Mapping[str, str]) -> bool:
    key, eq, want = value.partition("=")
    if key not in labels:
        return False
    return not eq or labels[key] == want


def last_n(containers: Sequence[C], n: int) -> list[C]:
    """`--last N`: the N most recently created, whatever their state."""
    return sorted(containers, key=lambda c: c.created, reverse=True)[: max(n, 0)]


@struct(frozen=True, slots=True)
class Selected:
    """A listed container and its Docker status (`paused` and `restarting` included)."""

    container: Container
    status: str


def docker_status(c: Container) -> str:
    """Docker's State of a container: the record's status, or `paused` / `restarting`. The
    freezer is read only for running containers."""
    if not c.running:
        return c.state.status
    if c.state.restarting:
        return "restarting"
    from pycore.runtime import cgroups

    return "paused" if cgroups.paused(c.id, c.dir.text) else "running"


def select(
    containers: StrPath, filters: Filters, *, show_all: bool = False, last: int = -1
) -> list[Selected]:
    """`ps` of the store directory `containers`: running containers (all with `show_all`, a
    status filter or `last`), filtered, newest first, the `last` N when N >= 0."""
    from pycore.runtime import records

    found = records.load_all(containers)
    if not (show_all or filters.wants_all or last >= 0):
        found = [c for c in found if c.running]
    if last >= 0:
        found = last_n(found, last)
    kept = []
    for c in found:
        status = docker_status(c)
        labels = c.record.get("Config", {}).get("Labels") or {}
        if filters.matches(c, Facts(status, c.state.exit_code, labels)):
            kept.append(Selected(c, status))
    return kept


def published_ports(root: StrPath, c: Container) -> str:
    """Docker's PORTS column: `0.0.0.0:8080->80/tcp` for each port published on a running
    container (read from its network endpoint's record), then `80/tcp` for each port it
    exposes without publishing. Docker joins ranges (`8000-8001->80-81/tcp`); this lists
    each port, and there is no IPv6 line."""
    if not c.running:
        return ""
    mode = str(c.record.get("HostConfig", {}).get("NetworkMode") or "default")
    if mode in ("none", "host") or mode.startswith("container:"):
        return ""
    from pycore.network.records import NetDirs, read_endpoint

    endpoint = read_endpoint(NetDirs(f"{os.fspath(root)}/networks"), c.id) or {}
    published: list[tuple[int, str, str, int]] = []
    for raw in endpoint.get("Ports") or []:
        try:
            published.append((int(raw[0]), str(raw[1]), str(raw[2]), int(raw[3])))
        except (TypeError, ValueError, IndexError):
            continue
    shown = [f"{ip or '0.0.0.0'}:{hp}->{cp}/{proto}" for cp, proto, ip, hp in sorted(published)]
    done = {(cp, proto) for cp, proto, _, _ in published}
    exposed = []
    for key in c.record.get("Config", {}).get("ExposedPorts") or {}:
        port, _, proto = str(key).partition("/")
        if port.isdigit() and (int(port), proto or "tcp") not in done:
            exposed.append((int(port), proto or "tcp"))
    shown += [f"{port}/{proto}" for port, proto in sorted(set(exposed))]
    return ", ".join(shown)


def sizes(root: StrPath, containers: Sequence[Container]) -> dict[str, str]:
    """`ps -s`: Docker's SIZE, `<writable layer> (virtual <writable + image>)`; the image's
    size as `pycore images` shows it. Walks each container's upper directory."""
    from pathlib import Path

    from pycore.errors import PycoreError
    from pycore.image import ImageService, tree_size
    from pycore.store.store import Store
    from pycore.ui.output import human_size

    images = ImageService(Store.open(root))
    image_sizes: dict[str, int] = {}
    out = {}
    for c in containers:
        if c.image_id not in image_sizes:
            try:
                image_sizes[c.image_id] = images.get(c.image_id).size
            except PycoreError:
                image_sizes[c.image_id] = 0  # removed since (`rmi -f`)
        rw = tree_size(Path(c.dir.upper))
        out[c.id] = f"{human_size(rw)} (virtual {human_size(rw + image_sizes[c.image_id])})"
    return out
