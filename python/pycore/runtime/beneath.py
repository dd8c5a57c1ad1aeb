"""Untrusted paths (a container's, a `cp` argument) resolved beneath a root directory fd, the
way openat2(2)'s RESOLVE_IN_ROOT does: every component is opened with O_NOFOLLOW relative to
its parent's fd, symlinks are read and spliced in, an absolute link or `..` at the top starts
again from (or stays at) the root. Nothing is ever re-resolved by string, so a symlink in the
container (or one swapped in while we walk) cannot lead outside it. Also the fd-to-fd tree
copy that `cp` and volume pre-fill use."""

from __future__ import annotations

import errno
import os
import stat

from pycore.structs import struct

MAX_LINKS = 40  # what the kernel allows in one lookup (path_resolution(7))
_PATH = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC


def _parts(path: str) -> list[str]:
    return [p for p in path.split("/") if p and p != "."]


class Resolved:
    """The result of a walk: the directory fd holding the last component, and its name
    ("." when the path names that directory itself). Close it (or use `with`)."""

    def __init__(self, parent: int, name: str) -> None:
        self.parent = parent
        self.name = name

    def __enter__(self) -> Resolved:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.parent >= 0:
            os.close(self.parent)
            self.parent = -1

    def lstat(self) -> os.stat_result | None:
        try:
            return os.stat(self.name, dir_fd=self.parent, follow_symlinks=False)
        except FileNotFoundError:
            return None

    def open(self, flags: int, mode: int = 0o644) -> int:
        """openat(parent, name) without following a symlink at the end."""
        return os.open(self.name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=self.parent)


def resolve(root: int, path: str, *, follow: bool = True) -> Resolved:
    """Walk `path` beneath `root`. Intermediate symlinks are always followed (inside the
    root); the last one only with `follow`. Missing intermediate directories raise
    FileNotFoundError; a missing last component is fine (its parent is returned)."""
    todo = _parts(path)
    stack: list[int] = []
    cur = os.open(".", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=root)
    links = 0
    try:
        while todo:
            name = todo.pop(0)
            if name == "..":
                if stack:
                    os.close(cur)
                    cur = stack.pop()
                continue
            last = not todo
            try:
                fd = os.open(name, _PATH, dir_fd=cur)
            except FileNotFoundError:
                if last:
                    return _done(stack, cur, name)
                raise
            st = os.fstat(fd)
            if stat.S_ISLNK(st.st_mode) and (follow or not last):
                links += 1
                target = os.readlink("", dir_fd=fd)
                os.close(fd)
                if links > MAX_LINKS:
                    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), path)
                if target.startswith("/"):
                    for f in stack:
                        os.close(f)
                    stack.clear()
                    os.close(cur)
                    cur = os.open(".", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=root)
                todo[:0] = _parts(target)
                continue
            if last:
                os.close(fd)
                return _done(stack, cur, name)
            if not stat.S_ISDIR(st.st_mode):
                os.close(fd)
                raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), path)
            stack.append(cur)
            cur = fd
        return _done(stack, cur, ".")
    except BaseException:
        for f in stack:
            os.close(f)
        os.close(cur)
        raise


def _done(stack: list[int], cur: int, name: str) -> Resolved:
    for f in stack:
        os.close(f)
    return Resolved(cur, name)


class opened_dir:
    """An O_RDONLY directory fd for `path` beneath `root` (symlinks followed inside it),
    closed when the block ends."""

    __slots__ = ("_fd", "_path", "_root")

    def __init__(self, root: int, path: str) -> None:
        self._root, self._path, self._fd = root, path, -1

    def __enter__(self) -> int:
        with resolve(self._root, self._path) as r:
            self._fd = r.open(os.O_RDONLY | os.O_DIRECTORY)
        return self._fd

    def __exit__(self, *exc: object) -> None:
        os.close(self._fd)


@struct(frozen=True, slots=True)
class Owner:
    """Ownership to give copied entries: None keeps the source's."""

    uid: int | None = None
    gid: int | None = None


KEEP_OWNER = Owner()


def copy_entry(
    src_dir: int, src_name: str, dst_dir: int, dst_name: str, *, owner: Owner = KEEP_OWNER
) -> None:
    """Copy the entry `src_name` of `src_dir` (not following a symlink) to `dst_name` in
    `dst_dir`, recursively, keeping modes and times, ownership as `owner` says. A directory
    merges into an existing one; a file replaces an existing non-directory (never writing
    through a symlink there)."""
    st = os.stat(src_name, dir_fd=src_dir, follow_symlinks=False)
    mode = st.st_mode
    if stat.S_ISDIR(mode):
        _copy_dir(src_dir, src_name, dst_dir, dst_name, st, owner)
        return
    _unlink_non_dir(dst_dir, dst_name)
    if stat.S_ISREG(mode):
        sfd = os.open(src_name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=src_dir)
        try:
            dfd = os.open(
                dst_name,
                os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                0o600,
                dir_fd=dst_dir,
            )
            try:
                while os.sendfile(dfd, sfd, None, 1 << 20):
                    pass
                _finish_fd(dfd, st, owner, sfd)
            finally:
                os.close(dfd)
        finally:
            os.close(sfd)
    elif stat.S_ISLNK(mode):
        os.symlink(os.readlink(src_name, dir_fd=src_dir), dst_name, dir_fd=dst_dir)
        _chown(dst_dir, dst_name, st, owner)
    else:
        os.mknod(dst_name, stat.S_IMODE(mode) | stat.S_IFMT(mode), st.st_rdev, dir_fd=dst_dir)
        _chown(dst_dir, dst_name, st, owner)
        os.chmod(dst_name, stat.S_IMODE(mode), dir_fd=dst_dir)
    os.utime(dst_name, ns=(st.st_atime_ns, st.st_mtime_ns), dir_fd=dst_dir, follow_symlinks=False)


def _copy_dir(
    src_dir: int, src_name: str, dst_dir: int, dst_name: str, st: os.stat_result, owner: Owner
) -> None:
    try:
        os.mkdir(dst_name, 0o700, dir_fd=dst_dir)
    except FileExistsError:
        if not stat.S_ISDIR(os.stat(dst_name, dir_fd=dst_dir, follow_symlinks=False).st_mode):
            raise
    sfd = os.open(src_name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=src_dir)
    try:
        dfd = os.open(dst_name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dst_dir)
        try:
            with os.scandir(sfd) as it:
                names = [e.name for e in it]
            for name in names:
                copy_entry(sfd, name, dfd, name, owner=owner)
            _finish_fd(dfd, st, owner, sfd)
            os.utime(dfd, ns=(st.st_atime_ns, st.st_mtime_ns))
        finally:
            os.close(dfd)
    finally:
        os.close(sfd)


def _unlink_non_dir(dir_fd: int, name: str) -> None:
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(
            errno.EISDIR, "cannot overwrite a directory with a non-directory", name
        )
    os.unlink(name, dir_fd=dir_fd)


def _finish_fd(fd: int, st: os.stat_result, owner: Owner, src: int) -> None:
    uid = st.st_uid if owner.uid is None else owner.uid
    gid = st.st_gid if owner.gid is None else owner.gid
    os.fchown(fd, uid, gid)
    # After chown, which clears set-id bits.
    os.fchmod(fd, stat.S_IMODE(st.st_mode))
    try:
        for key in os.listxattr(src):
            if key.startswith(("user.", "security.capability")):
                os.setxattr(fd, key, os.getxattr(src, key))
    except OSError:
        pass


def _chown(dir_fd: int, name: str, st: os.stat_result, owner: Owner) -> None:
    uid = st.st_uid if owner.uid is None else owner.uid
    gid = st.st_gid if owner.gid is None else owner.gid
    os.chown(name, uid, gid, dir_fd=dir_fd, follow_symlinks=False)
