"""The only importer of `pycore._native`: maps native errors onto `pycore.errors`.

Everything else in pycore calls these wrappers, so native exceptions never leak to users.
"""

from __future__ import annotations

import os

from pycore import _native, errors
from pycore.digest import Digest

TYPE_CHECKING = False  # not typing's: importing typing costs every CLI start
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from types import TracebackType

    from pycore.layer import Compression, Whiteouts

    # Paths cross the boundary as str; callers may hold pathlib paths (not on the run path).
    StrPath = str | os.PathLike[str]
LayerDigests = _native.LayerDigests


class _mapped:
    """Native layer errors as pycore's, prefixed with what was being done."""

    __slots__ = ("what",)

    def __init__(self, what: str) -> None:
        self.what = what

    def __enter__(self) -> None:
        pass

    def __exit__(
        self,
        kind: type[BaseException] | None,
        e: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if isinstance(e, _native.DigestMismatch):
            raise errors.DigestMismatch(f"{self.what}: {e}") from e
        if isinstance(e, _native.LayerError):
            raise errors.LayerError(f"{self.what}: {e}") from e
        if isinstance(e, _native.NativeError):
            raise errors.PycoreError(f"{self.what}: {e}") from e


def sha256_bytes(data: bytes) -> Digest:
    """SHA-256 of in-memory bytes (manifests, configs)."""
    return Digest.parse(_native.sha256_bytes(data))


def sha256_file(path: StrPath) -> Digest:
    """SHA-256 of a file, streamed natively (SHA-NI where the CPU has it)."""
    return Digest.parse(_native.sha256_file(os.fspath(path)))


def unpack_layer(
    blob: StrPath | int,
    dest: StrPath,
    *,
    whiteouts: Whiteouts = "overlay",
    digest: Digest | None = None,
    size: int | None = None,
    diff_id: Digest | None = None,
    progress: Callable[[int], None] | None = None,
    what: str | None = None,
) -> LayerDigests:
    """Verify and extract one layer blob into `dest` (see `_native.unpack_layer`): a path,
    or an open descriptor (a pipe) read to EOF, which the caller keeps and closes."""
    with _mapped(what or f"unpack {blob}"):
        return _native.unpack_layer(
            blob if isinstance(blob, int) else os.fspath(blob),
            os.fspath(dest),
            whiteouts=whiteouts,
            digest=str(digest) if digest else None,
            size=size,
            diff_id=str(diff_id) if diff_id else None,
            progress=progress,
        )


def pack_layer(
    src: StrPath, out: StrPath, *, compression: Compression = "gzip", level: int | None = None
) -> LayerDigests:
    """Pack a directory (an overlay upper dir) into a deterministic layer blob."""
    with _mapped(f"pack {src}"):
        return _native.pack_layer(
            os.fspath(src), os.fspath(out), compression=compression, level=level
        )


def exec_process(
    bundle: StrPath,
    pid: int,
    pid_start: int,
    args: list[str],
    env: list[str],
    *,
    uid: int,
    gid: int,
    groups: list[int],
    cwd: str,
    cgroups: Sequence[StrPath],
    stdin: bool = False,
    tty: bool = False,
    detach: bool = False,
) -> tuple[int, int | None]:
    """Run a command in a running container (see `_native.exec_process`).

    Raises ContainerError carrying Docker's exit code (125, 126 or 127).
    """
    try:
        return _native.exec_process(
            os.fspath(bundle),
            pid,
            pid_start,
            args,
            env,
            uid=uid,
            gid=gid,
            groups=groups,
            cwd=cwd,
            cgroups=[os.fspath(c) for c in cgroups],
            stdin=stdin,
            tty=tty,
            detach=detach,
        )
    except _native.ContainerError as e:
        message, code = e.args
        raise errors.ContainerError(str(message), exit_code=int(code)) from e


def open_overlay(lowerdirs: Sequence[StrPath], upperdir: StrPath, workdir: StrPath) -> int:
    """A detached overlay mount's root fd (see `_native.open_overlay`); the caller closes it.

    Raises PycoreError when the kernel refuses the overlay."""
    try:
        return _native.open_overlay(
            [os.fspath(d) for d in lowerdirs], os.fspath(upperdir), os.fspath(workdir)
        )
    except (OSError, ValueError) as e:
        raise errors.PycoreError(f"mount the container's overlay: {e}") from e


def start_container(
    bundle: StrPath,
    state: StrPath,
    log: StrPath,
    *,
    attach: bool = False,
    remove: StrPath | None = None,
    trash: StrPath | None = None,
    interactive: bool = False,
    exit_command: Sequence[str] | None = None,
    exit_if: StrPath | None = None,
) -> tuple[int, int | None]:
    """Start the bundle's container under its monitor (see `_native.start_container`).

    Raises ContainerError carrying Docker's exit code (125, 126 or 127).
    """
    try:
        return _native.start_container(
            os.fspath(bundle),
            os.fspath(state),
            os.fspath(log),
            attach=attach,
            remove=os.fspath(remove) if remove else None,
            trash=os.fspath(trash) if trash else None,
            interactive=interactive,
            exit_command=list(exit_command) if exit_command else None,
            exit_if=os.fspath(exit_if) if exit_if else None,
        )
    except _native.ContainerError as e:
        message, code = e.args
        raise errors.ContainerError(str(message), exit_code=int(code)) from e


def prime_cgroups(hold: float = 1.0) -> None:
    """Start the cgroup migration's grace period now (see `_native.prime_cgroups`)."""
    _native.prime_cgroups(hold)


def pin_netns(path: StrPath) -> None:
    """A new network namespace pinned on `path` (see `_native.pin_netns`).

    Raises NetworkError.
    """
    try:
        _native.pin_netns(os.fspath(path))
    except OSError as e:
        raise errors.NetworkError(f"create network namespace {path}: {e.strerror}") from e


def plumb_veth(
    bridge: str, veth: str, netns: StrPath, iface: str, address: str, gateway: str | None = None
) -> None:
    """The veth pair `veth` (host, up, on `bridge`) / `iface` (inside `netns`, `address` in
    CIDR form, up, default route via `gateway` if given), over netlink (see
    `_native.plumb_veth`). Raises NetworkError, one line naming the operation and link;
    nothing half-made is left."""
    try:
        _native.plumb_veth(bridge, veth, os.fspath(netns), iface, address, gateway)
    except _native.NetlinkError as e:
        raise errors.NetworkError(str(e.args[0])) from e
    except ValueError as e:
        raise errors.NetworkError(f"connect {veth} to {bridge}: {e}") from e


def unpin_netns(path: StrPath) -> None:
    """Release a namespace `pin_netns` made; idempotent. Raises NetworkError."""
    try:
        _native.unpin_netns(os.fspath(path))
    except OSError as e:
        raise errors.NetworkError(f"remove network namespace {path}: {e.strerror}") from e
