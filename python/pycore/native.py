"""The only importer of `pycore._native`: maps native errors onto `pycore.errors`.

Everything else in pycore calls these wrappers, so native exceptions never leak to users.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from pycore import _native, errors
from pycore.digest import Digest

TYPE_CHECKING = False  # not typing's: importing typing costs every CLI start
if TYPE_CHECKING:
    from pycore.layer import Compression, Whiteouts
LayerDigests = _native.LayerDigests


@contextmanager
def _mapped(what: str) -> Iterator[None]:
    try:
        yield
    except _native.DigestMismatch as e:
        raise errors.DigestMismatch(f"{what}: {e}") from e
    except _native.LayerError as e:
        raise errors.LayerError(f"{what}: {e}") from e
    except _native.NativeError as e:
        raise errors.PycoreError(f"{what}: {e}") from e


def sha256_bytes(data: bytes) -> Digest:
    """SHA-256 of in-memory bytes (manifests, configs)."""
    return Digest.parse(_native.sha256_bytes(data))


def sha256_file(path: Path) -> Digest:
    """SHA-256 of a file, streamed natively (SHA-NI where the CPU has it)."""
    return Digest.parse(_native.sha256_file(str(path)))


def unpack_layer(
    blob: Path | int,
    dest: Path,
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
            blob if isinstance(blob, int) else str(blob),
            str(dest),
            whiteouts=whiteouts,
            digest=str(digest) if digest else None,
            size=size,
            diff_id=str(diff_id) if diff_id else None,
            progress=progress,
        )


def pack_layer(
    src: Path, out: Path, *, compression: Compression = "gzip", level: int | None = None
) -> LayerDigests:
    """Pack a directory (an overlay upper dir) into a deterministic layer blob."""
    with _mapped(f"pack {src}"):
        return _native.pack_layer(str(src), str(out), compression=compression, level=level)


def exec_process(
    bundle: Path,
    pid: int,
    pid_start: int,
    args: list[str],
    env: list[str],
    *,
    uid: int,
    gid: int,
    groups: list[int],
    cwd: str,
    cgroups: list[Path],
    stdin: bool = False,
    tty: bool = False,
    detach: bool = False,
) -> tuple[int, int | None]:
    """Run a command in a running container (see `_native.exec_process`).

    Raises ContainerError carrying Docker's exit code (125, 126 or 127).
    """
    try:
        return _native.exec_process(
            str(bundle),
            pid,
            pid_start,
            args,
            env,
            uid=uid,
            gid=gid,
            groups=groups,
            cwd=cwd,
            cgroups=list(map(str, cgroups)),
            stdin=stdin,
            tty=tty,
            detach=detach,
        )
    except _native.ContainerError as e:
        message, code = e.args
        raise errors.ContainerError(str(message), exit_code=int(code)) from e


def open_overlay(lowerdirs: list[Path], upperdir: Path, workdir: Path) -> int:
    """A detached overlay mount's root fd (see `_native.open_overlay`); the caller closes it.

    Raises PycoreError when the kernel refuses the overlay."""
    try:
        return _native.open_overlay(list(map(str, lowerdirs)), str(upperdir), str(workdir))
    except (OSError, ValueError) as e:
        raise errors.PycoreError(f"mount the container's overlay: {e}") from e


def start_container(
    bundle: Path,
    state: Path,
    log: Path,
    *,
    attach: bool = False,
    remove: Path | None = None,
    trash: Path | None = None,
    interactive: bool = False,
    exit_command: Sequence[str] | None = None,
    exit_if: Path | None = None,
) -> tuple[int, int | None]:
    """Start the bundle's container under its monitor (see `_native.start_container`).

    Raises ContainerError carrying Docker's exit code (125, 126 or 127).
    """
    try:
        return _native.start_container(
            str(bundle),
            str(state),
            str(log),
            attach=attach,
            remove=str(remove) if remove else None,
            trash=str(trash) if trash else None,
            interactive=interactive,
            exit_command=list(exit_command) if exit_command else None,
            exit_if=str(exit_if) if exit_if else None,
        )
    except _native.ContainerError as e:
        message, code = e.args
        raise errors.ContainerError(str(message), exit_code=int(code)) from e


def prime_cgroups(hold: float = 1.0) -> None:
    """Start the cgroup migration's grace period now (see `_native.prime_cgroups`)."""
    _native.prime_cgroups(hold)


def pin_netns(path: Path) -> None:
    """A new network namespace pinned on `path` (see `_native.pin_netns`).

    Raises NetworkError.
    """
    try:
        _native.pin_netns(str(path))
    except OSError as e:
        raise errors.NetworkError(f"create network namespace {path}: {e.strerror}") from e


def plumb_veth(
    bridge: str, veth: str, netns: Path, iface: str, address: str, gateway: str | None = None
) -> None:
    """The veth pair `veth` (host, up, on `bridge`) / `iface` (inside `netns`, `address` in
    CIDR form, up, default route via `gateway` if given), over netlink (see
    `_native.plumb_veth`). Raises NetworkError, one line naming the operation and link;
    nothing half-made is left."""
    try:
        _native.plumb_veth(bridge, veth, str(netns), iface, address, gateway)
    except _native.NetlinkError as e:
        raise errors.NetworkError(str(e.args[0])) from e
    except ValueError as e:
        raise errors.NetworkError(f"connect {veth} to {bridge}: {e}") from e


def unpin_netns(path: Path) -> None:
    """Release a namespace `pin_netns` made; idempotent. Raises NetworkError."""
    try:
        _native.unpin_netns(str(path))
    except OSError as e:
        raise errors.NetworkError(f"remove network namespace {path}: {e.strerror}") from e
