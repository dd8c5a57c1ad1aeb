"""Run options, parsed once at the edge into a frozen value (`docker run`'s flags)."""

from __future__ import annotations

from pycore.errors import UsageError
from pycore.runtime.cgroups import Resources
from pycore.runtime.mounts import MountSpec, valid_name
from pycore.runtime.restart import RestartPolicy
from pycore.structs import field, struct

TYPE_CHECKING = False  # not typing's: importing typing costs every CLI start
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from os import PathLike

    from pycore.network.ports import PortBinding

# none, host, default (the `bridge` network), container:<name|id>, or a network's name/id.
NetworkMode = str


@struct(frozen=True, slots=True)
class RunOptions:
    """Everything `run`/`create` takes besides the image. `env` holds `KEY=VALUE` entries
    after `-e KEY` was looked up in the caller's environment and env-files were read."""

    command: tuple[str, ...] = ()
    entrypoint: str | None = None
    env: tuple[str, ...] = ()
    workdir: str | None = None
    user: str | None = None
    hostname: str | None = None
    network: NetworkMode = "default"
    publish: tuple[PortBinding, ...] = ()
    publish_all: bool = False
    expose: tuple[str, ...] = ()
    links: tuple[str, ...] = ()
    network_aliases: tuple[str, ...] = ()
    ip: str | None = None
    read_only: bool = False
    privileged: bool = False
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    no_new_privileges: bool = False
    labels: Mapping[str, str] = field(default_factory=dict)
    mounts: tuple[MountSpec, ...] = ()
    resources: Resources | None = None
    restart: RestartPolicy = field(default_factory=RestartPolicy)
    tty: bool = False
    interactive: bool = False
    init: bool = False


def check_name(name: str) -> str:
    """Docker's container name rule; a leading '/' is accepted and dropped."""
    bare = name[1:] if name.startswith("/") else name
    if not valid_name(bare):
        raise UsageError(
            f"invalid container name ({name!r}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        )
    return bare


def parse_network(value: str | None) -> NetworkMode:
    if not value or value in ("default", "bridge"):
        return "default"
    if value.startswith("container:") and value.partition(":")[2]:
        return value
    if value in ("none", "host") or valid_name(value):
        return value
    raise UsageError(f"invalid network {value!r}")


def env_entries(
    items: Iterable[str],
    env_files: Iterable[str | PathLike[str]],
    host_env: Mapping[str, str],
) -> tuple[str, ...]:
    """`--env-file` entries first, then `-e`, as Docker orders them. `KEY` alone takes the
    caller's value, or is dropped when the caller has none."""
    out: list[str] = []
    for path in env_files:
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except OSError as e:
            raise UsageError(f"cannot read env file {path}: {e.strerror}") from e
        for line in text.splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                out.extend(_one(line, host_env))
    for item in items:
        out.extend(_one(item, host_env))
    return tuple(out)


def _one(item: str, host_env: Mapping[str, str]) -> list[str]:
    key, sep, _ = item.partition("=")
    if not key:
        raise UsageError(f"invalid environment variable: {item!r}")
    if sep:
        return [item]
    return [f"{key}={host_env[key]}"] if key in host_env else []
