"""Volumes under `<root>/volumes/<name>/`: `_data` (what containers mount) and `volume.json`
(name, created, labels, anonymous and, for an anonymous one, the container it was made for;
written by rename). A volume is in use while any container record lists it in its `Mounts`;
that is computed from the records, never stored. Also turns a container's `MountSpec`s into
OCI mounts, creating volumes and pre-filling new ones from the image as Docker does; and
removes the anonymous volumes of containers that go (`--rm`, a create that died)."""

from __future__ import annotations

import builtins
import os
import stat
import time

from pycore import jsonio, native
from pycore.errors import Conflict, NotFound, UsageError
from pycore.runtime import beneath, records
from pycore.runtime.mounts import MountSpec, check_volume_name, tmpfs_options
from pycore.store import atomic
from pycore.store.store import Store
from pycore.structs import field, struct

TYPE_CHECKING = False  # not typing's: importing typing costs every CLI start
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any

    StrPath = str | os.PathLike[str]


class VolumeNotFound(NotFound):
    """No volume has this name."""


@struct(frozen=True, slots=True)
class Volume:
    """One volume and its metadata."""

    name: str
    created: str
    path: str
    labels: Mapping[str, str] = field(default_factory=dict)
    anonymous: bool = False
    # The container whose create made this anonymous volume: what a killed create left can
    # be told from a volume a removed container left dangling (Docker keeps that one).
    owner: str = ""

    @property
    def mountpoint(self) -> str:
        return f"{self.path}/_data"

    def inspect(self) -> dict[str, Any]:
        """`docker volume inspect`'s fields."""
        return {
            "CreatedAt": self.created,
            "Driver": "local",
            "Labels": dict(self.labels),
            "Mountpoint": self.mountpoint,
            "Name": self.name,
            "Options": {},
            "Scope": "local",
        }


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class VolumeService:
    """Volumes of one store. Raises PycoreError subclasses only."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.root = store.layout.volumes

    # -- reading -----------------------------------------------------------------------

    def _load(self, name: str) -> Volume | None:
        path = f"{self.root}/{name}"
        try:
            with open(f"{path}/volume.json", "rb") as f:
                raw = jsonio.loads(f.read())
        except (OSError, ValueError):
            return None
        if not isinstance(raw, dict) or not os.path.isdir(f"{path}/_data"):
            return None
        return Volume(
            name=name,
            created=str(raw.get("created", "")),
            path=path,
            labels=dict(raw.get("labels") or {}),
            anonymous=bool(raw.get("anonymous")),
            owner=str(raw.get("container") or ""),
        )

    def get(self, name: str) -> Volume:
        vol = self._load(name) if name and "/" not in name else None
        if vol is None:
            raise VolumeNotFound(f"get {name}: no such volume")
        return vol

    def list(self, *, dangling: bool | None = None) -> list[Volume]:
        try:
            names = sorted(os.listdir(self.root))
        except FileNotFoundError:
            return []
        found = [v for v in map(self._load, names) if v is not None]
        if dangling is not None:
            used = self.users()
            found = [v for v in found if (v.name not in used) == dangling]
        return found

    def users(self) -> dict[str, builtins.list[str]]:
        """Volume name → names of the containers whose records mount it."""
        out: dict[str, builtins.list[str]] = {}
        for cdir in records.list_dirs(self.store.layout.containers):
            rec = records.read_config(cdir)
            if rec is None:
                continue
            for m in rec.get("Mounts") or []:
                if m.get("Type") == "volume" and m.get("Name"):
                    out.setdefault(m["Name"], []).append(str(rec.get("Name") or rec.get("Id")))
        return out

    # -- changing ----------------------------------------------------------------------

    def create(self, name: str | None = None, *, labels: Mapping[str, str] | None = None) -> Volume:
        """`volume create`: an existing volume of that name is returned as it is (Docker)."""
        vol, _ = self.ensure(name, labels=labels)
        return vol

    def ensure(
        self,
        name: str | None,
        *,
        labels: Mapping[str, str] | None = None,
        anonymous: bool = False,
        owner: str = "",
    ) -> tuple[Volume, bool]:
        """The volume `name` (a new random name when None), created if missing; and whether
        it was created now, for the container `owner` if given. It appears by one rename of
        a complete directory."""
        if name is None:
            name = os.urandom(32).hex()
        check_volume_name(name)
        existing = self._load(name)
        if existing is not None:
            return existing, False
        os.makedirs(self.root, exist_ok=True)
        with self.store.workdir("volume") as work:
            new = work / name
            (new / "_data").mkdir(parents=True, mode=0o755)
            os.chmod(new, 0o701)
            meta = {
                "name": name,
                "created": _now(),
                "labels": dict(labels or {}),
                "anonymous": anonymous,
            }
            if owner:
                meta["container"] = owner
            atomic.write_json(new / "volume.json", meta, mode=0o600)
            try:
                os.rename(new, f"{self.root}/{name}")
            except OSError:
                pass  # someone else made it first
        vol = self._load(name)
        if vol is None:
            raise UsageError(f"volume {name}: could not be created")
        return vol, True

    def remove(self, name: str, *, force: bool = False) -> None:
        """`volume rm`: refused while a container uses it (even with `force`, as Docker;
        `force` only ignores a missing volume)."""
        with self.store.locked():
            try:
                vol = self.get(name)
            except VolumeNotFound:
                if force:
                    return
                raise
            users = self.users().get(vol.name)
            if users:
                raise Conflict(f"remove {name}: volume is in use - [{', '.join(sorted(users))}]")
            trash = self.store.move_to_trash(vol.path)
        if trash is not None:
            import shutil  # here: it imports bz2 and lzma

            shutil.rmtree(trash, ignore_errors=True)

    def prune(self, *, all: bool = False) -> tuple[builtins.list[str], int]:
        """Remove unused volumes: anonymous ones, or every unused one with `all` (Docker
        23+). Returns their names and the bytes reclaimed."""
        gone: builtins.list[str] = []
        size = 0
        for vol in self.list(dangling=True):
            if not (all or vol.anonymous):
                continue
            n = _tree_size(vol.path)
            try:
                self.remove(vol.name)
            except (Conflict, VolumeNotFound):
                continue
            gone.append(vol.name)
            size += n
        return gone, size

    def remove_anonymous(self, record: Mapping[str, Any]) -> builtins.list[str]:
        """`rm -v`: the anonymous volumes the (already removed) container record listed."""
        return self.remove_unused(self.anonymous_names(record))

    def anonymous_names(self, record: Mapping[str, Any]) -> builtins.list[str]:
        """The anonymous volumes a container record lists in its `Mounts`."""
        names = []
        for m in record.get("Mounts") or []:
            name = m.get("Name")
            if m.get("Type") != "volume" or not name:
                continue
            vol = self._load(name)
            if vol is not None and vol.anonymous:
                names.append(name)
        return names

    def remove_unused(self, names: Sequence[str]) -> builtins.list[str]:
        """Those of `names` that are anonymous volumes no container record uses (a named
        volume is never removed here); the names removed."""
        gone = []
        for name in names:
            vol = self._load(name) if name and "/" not in name else None
            if vol is None or not vol.anonymous:
                continue
            try:
                self.remove(name)
            except (Conflict, VolumeNotFound):
                continue
            gone.append(name)
        return gone


# -- the anonymous volumes of a container that goes without `rm -v` ------------------------


def discard_unrecorded(store: Store, dirs: Sequence[records.ContainerDir]) -> None:
    """Discard container directories that never got a record (a create that failed, or was
    killed: `records.sweep_unrecorded`) and, first, the anonymous volumes made for them: a
    sweep killed half-way finds the directory again, or leaves volumes that are anonymous
    and unused, which `volume prune` takes. One scan of the volumes, only when there is
    something to sweep."""
    ids = {os.path.basename(d.path) for d in dirs}
    svc = VolumeService(store)
    svc.remove_unused([v.name for v in svc.list() if v.anonymous and v.owner in ids])
    for d in dirs:
        store.discard(d.path)


def auto_removed(store: Store, record: Mapping[str, Any]) -> builtins.list[str]:
    """The anonymous volumes that go with an `--rm` container (Docker removes them with it;
    named ones stay). Free for a record without volume mounts."""
    if not any(m.get("Type") == "volume" for m in record.get("Mounts") or ()):
        return []
    return VolumeService(store).anonymous_names(record)


def rm_exit_command(
    store: Store, cid: str, names: Sequence[str]
) -> tuple[list[str] | None, str | None]:
    """The monitor's exit command for an `--rm` container with anonymous volumes `names`:
    `container cleanup` (it also releases a network endpoint) told to remove them, once the
    monitor has taken the container's directory away; and the path while which it is
    needed, the last of the volumes (an attached CLI removes them itself and, once they
    are gone, spares the monitor an interpreter start; see `remove_after_exit`)."""
    from pycore.runtime.exitcmd import cleanup_argv

    argv = cleanup_argv(store.layout.root, cid, names)
    return argv, None if argv is None else f"{store.layout.volumes}/{names[-1]}"


# How long an attached `run --rm` waits for the monitor to take the directory away: it does
# so right after it told the CLI of the exit and removed the cgroup.
_REMOVED_WAIT = 5.0


def remove_after_exit(store: Store, cdir: records.ContainerDir, names: Sequence[str]) -> None:
    """An attached `run --rm` once told of the exit: its anonymous volumes go before it
    returns, as with Docker, once the monitor has removed the container (before that, its
    record still uses them). Should the monitor be slow, its exit command removes them."""
    deadline = time.monotonic() + _REMOVED_WAIT
    while os.path.exists(cdir.text) and time.monotonic() < deadline:
        time.sleep(0.002)
    VolumeService(store).remove_unused(names)


def _tree_size(path: StrPath) -> int:
    total = 0
    for dirpath, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(dirpath, f)).st_blocks * 512
            except OSError:
                pass
    return total


# -- a container's mounts ------------------------------------------------------------------


@struct(frozen=True, slots=True)
class PreparedMounts:
    """What `create` puts in the spec (`oci`) and in the record (`record`, inspect's Mounts)."""

    oci: tuple[dict[str, Any], ...]
    record: tuple[dict[str, Any], ...]


def image_volumes(image_config: Mapping[str, Any]) -> list[str]:
    vols = image_config.get("Volumes") or {}
    return sorted(v for v in vols if isinstance(v, str) and v.startswith("/"))


def prepare(
    store: Store,
    specs: Sequence[MountSpec],
    image_config: Mapping[str, Any],
    *,
    layers: Sequence[StrPath],
    upper: StrPath,
    work: StrPath,
    owner: str = "",
) -> PreparedMounts:
    """Resolve the run's mounts plus anonymous volumes for the image's VOLUMEs not covered:
    create bind sources (`-v`) or refuse missing ones (`--mount`), create volumes, pre-fill
    new empty ones from the image's content at their target. Anonymous volumes are made for
    the container `owner` (see `discard_unrecorded`)."""
    all_specs = list(specs)
    taken = {m.target for m in all_specs}
    for path in image_volumes(image_config):
        clean = "/" + "/".join(p for p in path.split("/") if p)
        if clean not in taken:
            all_specs.append(MountSpec("volume", clean))
            taken.add(clean)
    svc = VolumeService(store)
    oci: list[dict[str, Any]] = []
    rec: list[dict[str, Any]] = []
    to_fill: list[tuple[str, Volume]] = []
    for m in sorted(all_specs, key=lambda m: m.target.count("/")):
        if m.type == "tmpfs":
            oci.append(
                {
                    "destination": m.target,
                    "type": "tmpfs",
                    "source": "tmpfs",
                    "options": tmpfs_options(m),
                }
            )
            rec.append(_record("tmpfs", "", m.target, m))
            continue
        if m.type == "bind":
            assert m.source is not None
            source = _bind_source(m)
            name = ""
        else:
            anon = m.source is None
            vol, created = svc.ensure(m.source, anonymous=anon, owner=owner if anon else "")
            source = vol.mountpoint
            name = vol.name
            if not m.no_copy and (created or _is_empty(vol.mountpoint)):
                to_fill.append((m.target, vol))
        opts = ["rbind", m.propagation if m.type == "bind" else "rprivate"]
        if m.read_only:
            opts.append("ro")
        oci.append({"destination": m.target, "type": "bind", "source": source, "options": opts})
        rec.append(_record(m.type, source, m.target, m, name))
    if to_fill:
        _prefill(layers, upper, work, to_fill)
    return PreparedMounts(tuple(oci), tuple(rec))


def _record(kind: str, source: str, target: str, m: MountSpec, name: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {"Type": kind}
    if name:
        out["Name"] = name
    out |= {
        "Source": source,
        "Destination": target,
        "Mode": ("z" if kind == "volume" else "") if not m.read_only else "ro",
        "RW": not m.read_only,
        "Propagation": m.propagation if kind == "bind" else "",
    }
    if kind == "volume":
        out["Driver"] = "local"
    return out


def _bind_source(m: MountSpec) -> str:
    assert m.source is not None
    if os.path.exists(m.source):
        return m.source
    if not m.create_source:
        raise UsageError(
            f'invalid mount config for type "bind": bind source path does not exist: {m.source}'
        )
    try:
        os.makedirs(m.source, mode=0o755)
    except FileExistsError:
        pass
    except OSError as e:
        raise UsageError(f"error while creating mount source path '{m.source}': {e}") from e
    return m.source


def _is_empty(path: StrPath) -> bool:
    try:
        return not os.listdir(path)
    except OSError:
        return False


def _prefill(
    layers: Sequence[StrPath], upper: StrPath, work: StrPath, todo: Sequence[tuple[str, Volume]]
) -> None:
    """Copy the image's content at each target into its new volume, keeping ownership,
    modes and times (Docker's copy-up on first mount). The image is read through a detached
    overlay of the (still empty) container, paths resolved beneath its root."""
    root = native.open_overlay(list(layers), upper, work)
    try:
        for target, vol in todo:
            try:
                r = beneath.resolve(root, target)
            except OSError:
                continue
            with r:
                st = r.lstat()
                if st is None or not stat.S_ISDIR(st.st_mode):
                    continue
                src = r.open(os.O_RDONLY | os.O_DIRECTORY)
            dst = os.open(vol.mountpoint, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                with os.scandir(src) as it:
                    names = [e.name for e in it]
                for name in names:
                    beneath.copy_entry(src, name, dst, name)
                os.fchown(dst, st.st_uid, st.st_gid)
                os.fchmod(dst, stat.S_IMODE(st.st_mode))
            finally:
                os.close(dst)
                os.close(src)
    finally:
        os.close(root)
