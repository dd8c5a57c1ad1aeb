"""A container's filesystem from outside: `cp` both ways (paths and tar streams), `diff`,
`export` and `commit`. The merged view is the running container's root (`/proc/<pid>/root`,
volumes included, as `docker cp` sees them) or, stopped, its overlay mounted detached
(`native.open_overlay`). Every container path is walked beneath that root fd
(`runtime.beneath`), so no symlink in the container leads to a host file."""

from __future__ import annotations

import contextlib
import copy
import os
import stat
import tarfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from pycore import native
from pycore.errors import ContainerError, NotFound, PycoreError, UsageError
from pycore.runtime import beneath, records
from pycore.runtime.containers import Container
from pycore.runtime.spec import ANNOTATION_LOWERDIRS, ANNOTATION_UPPERDIR, ANNOTATION_WORKDIR
from pycore.store.store import Store
from pycore.structs import struct


class CopyError(PycoreError):
    """`cp` failed on a path (missing, wrong kind); exits 1, as `docker cp` does."""

    exit_code = 1


@struct(frozen=True, slots=True)
class Change:
    """One line of `diff`: kind A (added), C (changed) or D (deleted), and the path."""

    kind: str
    path: str

    def __str__(self) -> str:
        return f"{self.kind} {self.path}"


def _spec(c: Container) -> dict[str, Any]:
    try:
        return records.bundle_spec(c.dir)
    except (OSError, ValueError) as e:
        raise ContainerError(f"container {c.short_id}: unreadable bundle: {e}") from e


def _lowers(c: Container) -> list[Path]:
    a = _spec(c).get("annotations", {})
    return [Path(p) for p in str(a.get(ANNOTATION_LOWERDIRS, "")).split(":") if p]


@contextlib.contextmanager
def overlay_root(c: Container) -> Iterator[int]:
    """The container's own filesystem (image layers + upper dir, no volumes) as a root fd."""
    a = _spec(c).get("annotations", {})
    fd = native.open_overlay(
        _lowers(c),
        Path(a.get(ANNOTATION_UPPERDIR, c.dir.upper)),
        Path(a.get(ANNOTATION_WORKDIR, c.dir.work)),
    )
    try:
        yield fd
    finally:
        os.close(fd)


@contextlib.contextmanager
def merged_root(c: Container) -> Iterator[int]:
    """What the container sees at `/`: its live root while it runs, else its overlay."""
    state = records.read_state(c.dir)
    if state.status == "running" and state.pid:
        try:
            raw = records.raw_state(c.dir.text) or {}
            fd = os.open(f"/proc/{state.pid}/root", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        except (OSError, ValueError):
            fd = -1
        # Checked after opening: the fd pins the root of the process we verified.
        if fd >= 0 and records.start_time(state.pid) == raw.get("pid_start"):
            try:
                yield fd
            finally:
                os.close(fd)
            return
        if fd >= 0:
            os.close(fd)
    with overlay_root(c) as fd:
        yield fd


# -- cp ------------------------------------------------------------------------------------


def _host_dir(path: str) -> int:
    return os.open(path or ".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)


def _split_host(path: str) -> tuple[str, str]:
    path = os.path.abspath(path) if path not in ("", "/") else "/"
    parent, name = os.path.split(path)
    return parent, name or "."


def copy_out(
    c: Container, src: str, dest: str, *, archive: bool = False, follow: bool = False
) -> None:
    """`cp CTR:SRC DEST` with Docker's rules: into DEST when it is a directory, else as DEST;
    `SRC/.` copies a directory's content. Owned by the caller unless `archive`."""
    owner = beneath.Owner() if archive else beneath.Owner(os.getuid(), os.getgid())
    contents = src.endswith(("/.", "/"))
    with merged_root(c) as root, _resolve_src(root, src, c, follow) as s:
        st = s.lstat()
        assert st is not None
        is_dir = stat.S_ISDIR(st.st_mode)
        if os.path.isdir(dest):
            dfd = _host_dir(dest)
            try:
                if is_dir and contents:
                    _copy_children(s, dfd, owner)
                else:
                    _copy(s, dfd, os.path.basename(src.rstrip("/")) or "rootfs", owner)
            finally:
                os.close(dfd)
            return
        if dest.endswith("/"):
            raise CopyError(f"destination directory {dest!r} does not exist")
        if os.path.lexists(dest) and is_dir:
            raise CopyError(f"cannot copy a directory to a file: {dest}")
        parent, name = _split_host(dest)
        try:
            dfd = _host_dir(parent)
        except FileNotFoundError as e:
            raise CopyError(f"destination directory {parent!r} does not exist") from e
        try:
            _copy(s, dfd, name, owner)
        finally:
            os.close(dfd)


def copy_in(
    c: Container, src: str, dest: str, *, archive: bool = False, follow: bool = False
) -> None:
    """`cp SRC CTR:DEST`: the host path SRC into the container, DEST resolved beneath its
    root (a symlink there is followed, but only within the container). Owned by root
    unless `archive`."""
    owner = beneath.Owner() if archive else beneath.Owner(0, 0)
    parent, sname = _split_host(src)
    try:
        sfd = _host_dir(parent)
    except FileNotFoundError as e:
        raise CopyError(f"no such file or directory: {src}") from e
    try:
        if sname != "." and follow:
            real = os.path.realpath(src)
            os.close(sfd)
            parent, sname = _split_host(real)
            sfd = _host_dir(parent)
        src_res = beneath.Resolved(sfd, sname)
        st = src_res.lstat()
        if st is None:
            raise CopyError(f"no such file or directory: {src}")
        is_dir = stat.S_ISDIR(st.st_mode)
        contents = src.endswith(("/.", "/"))
        with merged_root(c) as root, _resolve_in(root, dest, c) as d:
            dst = d.lstat()
            if dst is not None and stat.S_ISDIR(dst.st_mode):
                into = d.open(os.O_RDONLY | os.O_DIRECTORY)
                try:
                    if is_dir and contents:
                        _copy_children(src_res, into, owner)
                    else:
                        name = sname if sname != "." else os.path.basename(os.path.abspath(src))
                        beneath.copy_entry(sfd, sname, into, name, owner=owner)
                finally:
                    os.close(into)
                return
            if dest.endswith("/"):
                raise CopyError(f"destination directory {dest!r} does not exist in {c.name}")
            if dst is not None and is_dir:
                raise CopyError(f"cannot copy a directory to a file: {dest}")
            wfd = os.open(".", os.O_RDONLY | os.O_DIRECTORY, dir_fd=d.parent)
            try:
                beneath.copy_entry(sfd, sname, wfd, d.name, owner=owner)
            finally:
                os.close(wfd)
    finally:
        with contextlib.suppress(OSError):
            os.close(sfd)


def _resolve_in(root: int, path: str, c: Container, follow: bool = True) -> beneath.Resolved:
    """`path` resolved beneath the container's root; a missing parent is a CopyError."""
    try:
        return beneath.resolve(root, path, follow=follow)
    except (FileNotFoundError, NotADirectoryError) as e:
        raise CopyError(f"Could not find the file {path} in container {c.name}") from e


@contextlib.contextmanager
def _resolve_src(root: int, src: str, c: Container, follow: bool) -> Iterator[beneath.Resolved]:
    with _resolve_in(root, src, c, follow) as r:
        if r.lstat() is None:
            raise CopyError(f"Could not find the file {src} in container {c.name}")
        yield r


def _copy(s: beneath.Resolved, dfd: int, name: str, owner: beneath.Owner) -> None:
    if s.name == ".":
        src_dir = os.open(".", os.O_RDONLY | os.O_DIRECTORY, dir_fd=s.parent)
        try:
            beneath.copy_entry(src_dir, ".", dfd, name, owner=owner)
        finally:
            os.close(src_dir)
        return
    beneath.copy_entry(s.parent, s.name, dfd, name, owner=owner)


def _copy_children(s: beneath.Resolved, dfd: int, owner: beneath.Owner) -> None:
    sfd = (
        s.open(os.O_RDONLY | os.O_DIRECTORY)
        if s.name != "."
        else os.open(".", os.O_RDONLY | os.O_DIRECTORY, dir_fd=s.parent)
    )
    try:
        with os.scandir(sfd) as it:
            names = [e.name for e in it]
        for n in names:
            beneath.copy_entry(sfd, n, dfd, n, owner=owner)
    finally:
        os.close(sfd)


def copy_out_tar(c: Container, src: str, out: IO[bytes], *, follow: bool = False) -> None:
    """`cp CTR:SRC -`: a tar stream of SRC, its base name as the top entry."""
    with merged_root(c) as root, _resolve_src(root, src, c, follow) as s:
        name = os.path.basename(src.rstrip("/")) or "."
        with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            if s.name == ".":
                fd = os.open(".", os.O_RDONLY | os.O_DIRECTORY, dir_fd=s.parent)
                try:
                    write_tree(tar, fd, ".", name)
                finally:
                    os.close(fd)
            else:
                write_tree(tar, s.parent, s.name, name)


def copy_in_tar(c: Container, data: IO[bytes], dest: str, store: Store) -> None:
    """`cp - CTR:DEST`: extract a tar stream into the directory DEST (entries resolved beneath
    it by the native unpacker). Differs from Docker: `.wh.` names are applied as whiteouts."""
    with store.workdir("cp") as work:
        blob = work / "in.tar"
        with blob.open("wb") as f:
            while chunk := data.read(1 << 20):
                f.write(chunk)
        with merged_root(c) as root:
            with _resolve_in(root, dest, c) as d:
                st = d.lstat()
                if st is None or not stat.S_ISDIR(st.st_mode):
                    raise CopyError(f"destination {dest!r} must be a directory")
                fd = d.open(os.O_RDONLY | os.O_DIRECTORY)
            try:
                native.unpack_layer(blob, Path(f"/proc/self/fd/{fd}"), whiteouts="flat")
            finally:
                os.close(fd)


def write_tree(tar: tarfile.TarFile, dir_fd: int, name: str, arcname: str) -> None:
    """Append the entry `name` of `dir_fd` (recursively, never following a symlink)."""
    links: dict[tuple[int, int], str] = {}
    _write(tar, dir_fd, name, arcname, links)


def _write(
    tar: tarfile.TarFile, dir_fd: int, name: str, arcname: str, links: dict[tuple[int, int], str]
) -> None:
    st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    info = tarfile.TarInfo(arcname)
    info.mode = stat.S_IMODE(st.st_mode)
    info.uid, info.gid = st.st_uid, st.st_gid
    info.mtime = int(st.st_mtime)
    mode = st.st_mode
    if stat.S_ISREG(mode) and st.st_nlink > 1 and (st.st_dev, st.st_ino) in links:
        info.type = tarfile.LNKTYPE
        info.linkname = links[(st.st_dev, st.st_ino)]
        tar.addfile(info)
        return
    if stat.S_ISREG(mode):
        links[(st.st_dev, st.st_ino)] = arcname
        info.size = st.st_size
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
        with os.fdopen(fd, "rb") as f:
            tar.addfile(info, f)
        return
    if stat.S_ISDIR(mode):
        info.type = tarfile.DIRTYPE
        tar.addfile(info)
        fd = os.open(
            name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd
        )
        try:
            with os.scandir(fd) as it:
                names = sorted(e.name for e in it)
            for n in names:
                _write(tar, fd, n, f"{arcname}/{n}" if arcname != "." else n, links)
        finally:
            os.close(fd)
        return
    if stat.S_ISLNK(mode):
        info.type = tarfile.SYMTYPE
        info.linkname = os.readlink(name, dir_fd=dir_fd)
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        info.type = tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE
        info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
    elif stat.S_ISFIFO(mode):
        info.type = tarfile.FIFOTYPE
    else:
        return  # sockets have no tar form
    tar.addfile(info)


# -- export --------------------------------------------------------------------------------


def export(c: Container, out: IO[bytes]) -> None:
    """`export`: the container's filesystem (image + changes, no volumes) as one flat tar."""
    with (
        overlay_root(c) as root,
        tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar,
    ):
        fd = os.open(".", os.O_RDONLY | os.O_DIRECTORY, dir_fd=root)
        try:
            with os.scandir(fd) as it:
                names = sorted(e.name for e in it)
            links: dict[tuple[int, int], str] = {}
            for n in names:
                _write(tar, fd, n, n, links)
        finally:
            os.close(fd)


# -- diff ----------------------------------------------------------------------------------


def _is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _is_opaque(path: str) -> bool:
    for key in ("trusted.overlay.opaque", "user.overlay.opaque"):
        with contextlib.suppress(OSError):
            if os.getxattr(path, key, follow_symlinks=False) == b"y":
                return True
    return False


def _empty(full: str, st: os.stat_result) -> bool:
    if stat.S_ISDIR(st.st_mode):
        return not os.listdir(full)
    return stat.S_ISREG(st.st_mode) and st.st_size == 0


def _mountpoints(c: Container) -> set[str]:
    return {str(m.get("destination", "")).rstrip("/") for m in _spec(c).get("mounts", [])}


def diff(c: Container) -> list[Change]:
    """`diff`: what the container changed, from its upper dir (whiteouts are deletions, an
    opaque directory hides what the image had in it). Empty mount points the runtime made
    (/proc, /etc/hosts...) are left out, as Docker keeps them in a separate init layer."""
    upper = str(c.dir.upper)
    lowers = [str(p) for p in _lowers(c)]
    skip = _mountpoints(c)
    out: list[Change] = []

    def in_lower(rel: str) -> bool:
        return any(os.path.lexists(os.path.join(low, rel)) for low in lowers)

    for dirpath, dirs, files in os.walk(upper):
        rel_dir = os.path.relpath(dirpath, upper)
        for name in sorted(dirs + files):
            full = os.path.join(dirpath, name)
            rel = os.path.normpath(os.path.join(rel_dir, name))
            st = os.lstat(full)
            path = "/" + rel
            if path in skip and _empty(full, st):
                continue
            if _is_whiteout(st):
                out.append(Change("D", path))
                continue
            out.append(Change("C" if in_lower(rel) else "A", path))
            if stat.S_ISDIR(st.st_mode) and _is_opaque(full):
                present = set(os.listdir(full))
                hidden = {
                    n
                    for low in lowers
                    if os.path.isdir(os.path.join(low, rel))
                    for n in os.listdir(os.path.join(low, rel))
                }
                out.extend(Change("D", f"{path}/{n}") for n in sorted(hidden - present))
    return sorted(out, key=lambda ch: ch.path)


# -- commit --------------------------------------------------------------------------------


def commit(
    store: Store,
    c: Container,
    reference: str | None = None,
    *,
    changes: Sequence[str] = (),
    message: str | None = None,
    author: str | None = None,
) -> Any:
    """`commit`: pack the upper dir into a new layer on top of the container's image, with
    a config from the container's (plus Dockerfile-style `changes`) and a history entry.
    Unlike Docker, the container is not paused while its upper dir is read."""
    from pycore.changes import apply_changes
    from pycore.digest import Digest
    from pycore.image import ImageService
    from pycore.oci import mediatypes as mt
    from pycore.oci.models import Descriptor, ImageConfig, Manifest
    from pycore.reference import Reference
    from pycore.store.commit import commit_image, now_rfc3339

    names: tuple[str, ...] = ()
    if reference:
        ref = Reference.parse(reference)
        if ref.digest is not None:
            raise UsageError(f"cannot tag an image with a digest reference: {reference}")
        names = (str(ref),)
    try:
        image = ImageService(store).get(c.image_id)
    except NotFound as e:
        raise ContainerError(f"container {c.name}: its image {c.image_id} is gone") from e
    when = now_rfc3339()
    raw = copy.deepcopy(image.config.raw)
    cfg = dict(raw.get("config") or {})
    rc = c.record.get("Config", {})
    for key in ("Env", "Cmd", "Entrypoint", "WorkingDir", "User", "Labels"):
        if rc.get(key) is not None:
            cfg[key] = rc[key]
    cfg = apply_changes(cfg, list(changes))
    with store.workdir("commit") as work:
        out = work / "layer"
        digests = native.pack_layer(c.dir.upper, out)
        store.ingest_blob(out, None, digests.size)
    raw["config"] = cfg
    raw["created"] = when
    raw["container"] = c.id
    if author:
        raw["author"] = author
    raw.setdefault("rootfs", {"type": "layers", "diff_ids": []})
    raw["rootfs"]["diff_ids"] = [*raw["rootfs"].get("diff_ids", []), digests.diff_id]
    entry: dict[str, Any] = {"created": when, "created_by": c.command}
    if message:
        entry["comment"] = message
    if author:
        entry["author"] = author
    raw["history"] = [*(raw.get("history") or []), entry]
    config_bytes = ImageConfig(raw).to_bytes()
    config_digest = store.put_blob(config_bytes)
    manifest = Manifest(
        config=Descriptor(mt.OCI_CONFIG, config_digest, len(config_bytes)),
        layers=(
            *image.manifest.layers,
            Descriptor(mt.OCI_LAYER_GZIP, Digest.parse(digests.digest), digests.size),
        ),
    )
    return commit_image(store, manifest.to_bytes(), names)
