"""`-v`, `--mount` and `--tmpfs`, parsed once at the edge into frozen `MountSpec` values, with
Docker's grammar and error messages (docker/cli `opts/mount.go`, moby `volume/mounts`). Pure:
whether a bind source exists is checked when the container is created."""

from __future__ import annotations

from pycore.errors import UsageError
from pycore.structs import struct

TYPE_CHECKING = False  # not typing's: importing typing costs every CLI start
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Literal

    MountType = Literal["bind", "volume", "tmpfs"]

# The grammar of volume and container names, /[a-zA-Z0-9][a-zA-Z0-9_.-]+/ (moby's
# RestrictedNameChars), checked by hand: `re` costs every CLI start milliseconds.
NAME_CHARS = "[a-zA-Z0-9][a-zA-Z0-9_.-]"
_NAME_FIRST = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_NAME_REST = _NAME_FIRST | {"_", ".", "-"}


def valid_name(text: str) -> bool:
    """Whether `text` is a valid volume or container name: two or more ASCII letters, digits,
    '_', '.' or '-', starting with a letter or digit."""
    return len(text) > 1 and text[0] in _NAME_FIRST and _NAME_REST.issuperset(text)


_PROPAGATIONS = ("private", "rprivate", "shared", "rshared", "slave", "rslave")
# Docker's defaults for a tmpfs (moby daemon/volumes_unix.go).
TMPFS_DEFAULTS = ("noexec", "nosuid", "nodev")


@struct(frozen=True, slots=True)
class MountSpec:
    """One mount asked for. `source` is a host path (bind), a volume name (volume; None for
    an anonymous volume) or None (tmpfs). `create_source`: `-v` creates a missing host
    directory, `--mount` refuses it. `tmpfs_options` are mount(8) options for a tmpfs."""

    type: MountType
    target: str
    source: str | None = None
    read_only: bool = False
    create_source: bool = False
    propagation: str = "rprivate"
    no_copy: bool = False
    tmpfs_options: tuple[str, ...] = ()


def _target(path: str, kind: str) -> str:
    if not path:
        raise UsageError(f'invalid mount config for type "{kind}": field Target must not be empty')
    if not path.startswith("/"):
        raise UsageError(
            f'invalid mount config for type "{kind}": invalid mount path: '
            f"'{path}' mount path must be absolute"
        )
    clean = "/" + "/".join(p for p in path.split("/") if p and p != ".")
    if ".." in clean.split("/"):
        raise UsageError(f"invalid mount path: '{path}': '..' is not allowed")
    if clean == "/":
        raise UsageError(f"invalid specification: destination can't be '/' in '{path}'")
    return clean


def check_volume_name(name: str) -> str:
    if not valid_name(name):
        raise UsageError(
            f'"{name}" includes invalid characters for a local volume name, only '
            f'"{NAME_CHARS}" are allowed. If you intended to pass a host '
            "directory, use absolute path"
        )
    return name


def parse_volume(spec: str) -> MountSpec:
    """`-v [SOURCE:]TARGET[:OPTIONS]`: SOURCE absolute → bind (a missing host directory is
    created), else a volume name; no SOURCE → an anonymous volume. OPTIONS: ro, rw,
    nocopy, a propagation mode; z/Z (SELinux relabelling) are accepted and ignored."""
    parts = spec.split(":")
    if not spec or len(parts) > 3 or any(p == "" for p in parts):
        raise UsageError(f"invalid volume specification: '{spec}'")
    options: list[str] = []
    if len(parts) == 1:
        return MountSpec("volume", _target(parts[0], "volume"))
    if len(parts) == 3:
        options = parts[2].split(",")
    elif not parts[1].startswith("/"):
        # `/ctr:ro`: an anonymous volume with options.
        return _with_options(MountSpec("volume", _target(parts[0], "volume")), [parts[1]], spec)
    source, target = parts[0], parts[1]
    if source.startswith("/"):
        base = MountSpec("bind", _target(target, "bind"), source=source, create_source=True)
    else:
        base = MountSpec("volume", _target(target, "volume"), source=check_volume_name(source))
    return _with_options(base, options, spec)


def _with_options(m: MountSpec, options: list[str], spec: str) -> MountSpec:
    ro, nocopy, prop = m.read_only, m.no_copy, m.propagation
    for opt in options:
        if opt in ("ro", "rw"):
            ro = opt == "ro"
        elif opt == "nocopy" and m.type == "volume":
            nocopy = True
        elif opt in _PROPAGATIONS and m.type == "bind":
            prop = opt
        elif opt not in ("z", "Z", "consistent", "cached", "delegated"):
            raise UsageError(f"invalid mode: {opt} in '{spec}'")
    return MountSpec(m.type, m.target, m.source, ro, m.create_source, prop, nocopy)


def _bool(key: str, value: str | None) -> bool:
    if value is None or value.lower() in ("1", "true"):
        return True
    if value.lower() in ("0", "false"):
        return False
    raise UsageError(f"invalid value for {key}: {value}")


def parse_size(text: str) -> int:
    """`65536`, `64k`, `64m`, `1g` (binary multiples, as Docker's RAMInBytes) → bytes."""
    from pycore.units import split_size

    parsed = split_size(text, "bkmgt")
    if parsed is None:
        raise UsageError(f"invalid size: '{text}'")
    number, unit = parsed
    return int(number * _SIZE_UNITS[unit])


_SIZE_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_mount(spec: str) -> MountSpec:
    """`--mount type=bind|volume|tmpfs,source=,target=,readonly,...` (CSV of key[=value])."""
    fields: dict[str, str | None] = {}
    for item in spec.split(","):
        if not item:
            continue
        k, sep, v = item.partition("=")
        fields[k.strip().lower()] = v if sep else None
    kind = fields.pop("type", None) or "volume"
    if kind not in ("bind", "volume", "tmpfs"):
        raise UsageError(f"invalid mount type: {kind!r} (bind, volume or tmpfs)")
    source: str | None = None
    target: str | None = None
    ro = nocopy = False
    prop = "rprivate"
    tmpfs: list[str] = []
    for key, value in fields.items():
        if key in ("source", "src"):
            source = value or None
        elif key in ("target", "destination", "dst"):
            target = value or ""
        elif key in ("readonly", "ro"):
            ro = _bool(key, value)
        elif key == "bind-propagation" and kind == "bind" and value in _PROPAGATIONS:
            prop = str(value)
        elif key == "volume-nocopy" and kind == "volume":
            nocopy = _bool(key, value)
        elif key == "tmpfs-size" and kind == "tmpfs" and value:
            tmpfs.append(f"size={parse_size(value)}")
        elif key == "tmpfs-mode" and kind == "tmpfs" and value:
            try:
                tmpfs.append(f"mode={int(value, 8):o}")
            except ValueError as e:
                raise UsageError(f"invalid value for tmpfs-mode: {value}") from e
        elif key == "consistency":
            continue
        else:
            raise UsageError(f"unexpected key '{key}' in '{spec}'")
    t = _target(target or "", kind)
    if kind == "bind":
        if not source:
            raise UsageError('invalid mount config for type "bind": field Source must not be empty')
        if not source.startswith("/"):
            raise UsageError(
                f'invalid mount config for type "bind": invalid mount path: '
                f"'{source}' mount path must be absolute"
            )
        return MountSpec("bind", t, source, ro, propagation=prop)
    if kind == "volume":
        return MountSpec(
            "volume", t, check_volume_name(source) if source else None, ro, no_copy=nocopy
        )
    if source:
        raise UsageError('invalid mount config for type "tmpfs": source is not allowed')
    return MountSpec("tmpfs", t, None, ro, tmpfs_options=tuple(tmpfs))


def parse_tmpfs(spec: str) -> MountSpec:
    """`--tmpfs /path[:opt,opt...]` with mount(8)-style tmpfs options (size=64m, mode=1777)."""
    path, _, opts = spec.partition(":")
    options = [o for o in opts.split(",") if o]
    ro = False
    kept: list[str] = []
    for o in options:
        if o in ("ro", "rw"):
            ro = o == "ro"
        elif o.startswith("size="):
            kept.append(f"size={parse_size(o[5:])}")
        else:
            kept.append(o)
    return MountSpec("tmpfs", _target(path, "tmpfs"), None, ro, tmpfs_options=tuple(kept))


def parse_all(
    volumes: Iterable[str], mounts: Iterable[str], tmpfs: Iterable[str]
) -> tuple[MountSpec, ...]:
    """Every mount of one `run`, refusing two at the same target (Docker's message)."""
    found = [
        *map(parse_volume, volumes),
        *map(parse_mount, mounts),
        *map(parse_tmpfs, tmpfs),
    ]
    seen: set[str] = set()
    for m in found:
        if m.target in seen:
            raise UsageError(f"Duplicate mount point: {m.target}")
        seen.add(m.target)
    return tuple(found)


def tmpfs_options(m: MountSpec) -> list[str]:
    """The OCI `options` of a tmpfs mount: Docker's defaults, then the user's."""
    out = [*TMPFS_DEFAULTS, "ro" if m.read_only else "rw"]
    for o in m.tmpfs_options:
        flag = {"exec": "noexec", "suid": "nosuid", "dev": "nodev"}.get(o)
        if flag in out:
            out.remove(flag)
        if o not in out:
            out.append(o)
    return out
