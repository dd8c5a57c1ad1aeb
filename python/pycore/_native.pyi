"""The native half of pycore (Rust, via PyO3): the hot and dangerous work.

This stub is the whole boundary between Python and Rust. `python -m mypy.stubtest
pycore._native` checks it against the built module in CI, so the two cannot drift.
Only `pycore.native` imports this module; everything else goes through it.
"""

from collections.abc import Callable
from typing import Literal, final

__version__: str

# PyO3 fills the module's `__all__` as items are added; keep this list in step.
__all__ = [
    "ContainerError",
    "DigestMismatch",
    "LayerDigests",
    "LayerError",
    "NativeError",
    "NetlinkError",
    "__version__",
    "exec_process",
    "open_overlay",
    "pack_layer",
    "pin_netns",
    "plumb_veth",
    "prime_cgroups",
    "sha256_bytes",
    "sha256_file",
    "start_container",
    "unpack_layer",
    "unpin_netns",
]

class NativeError(Exception):
    """Root of every error raised by the native module."""

class LayerError(NativeError):
    """A layer could not be read or extracted: corrupt or truncated stream, a malicious or
    unsupported entry (the message names it), or an I/O failure under the target."""

class DigestMismatch(LayerError):
    """A digest, diff_id or size did not match what the caller expected.

    The message names the kind (`digest`, `diff_id`, `size`), the expected and the actual value.
    """

@final
class LayerDigests:
    """What one pass over a layer learnt: both digests, the blob size and the entry count."""

    @property
    def digest(self) -> str:
        """`sha256:<hex>` of the blob as stored (the compressed stream)."""
    @property
    def diff_id(self) -> str:
        """`sha256:<hex>` of the uncompressed tar stream."""
    @property
    def size(self) -> int:
        """Bytes of the blob as stored."""
    @property
    def compression(self) -> Literal["gzip", "zstd", "none"]:
        """Compression found by magic bytes (unpack) or used (pack)."""
    @property
    def entries(self) -> int:
        """Tar entries read or written."""

def sha256_bytes(data: bytes) -> str:
    """SHA-256 of `data`, as `sha256:<hex>`."""

def sha256_file(path: str) -> str:
    """Stream the file at `path` through SHA-256 and return `sha256:<hex>`.

    Raises OSError when the file cannot be read.
    """

def unpack_layer(
    blob: str | int,
    dest: str,
    *,
    whiteouts: Literal["overlay", "flat"] = "overlay",
    digest: str | None = None,
    size: int | None = None,
    diff_id: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> LayerDigests:
    """Extract the layer blob at `blob` into the existing directory `dest`, in one pass.

    `blob` is a path, or a readable file descriptor (an int) read from its current position
    to EOF: a pipe fed by a download extracts the layer while it arrives. The descriptor is
    duplicated; the caller still owns it and closes it afterwards (once this returns, closing
    it tells a writer still feeding a pipe that nobody reads any more).

    Compression (gzip, zstd or none) is detected by magic bytes. The compressed and the
    uncompressed streams are hashed while extracting. Every entry is resolved beneath `dest`;
    nothing outside it is ever written. `whiteouts="overlay"` writes OCI whiteouts as overlayfs
    expects them (0:0 character devices, `trusted.overlay.opaque`); `"flat"` applies them by
    deleting from `dest`. `progress`, when given, is called with the compressed bytes read so far.

    Raises DigestMismatch when `digest`, `size` or `diff_id` is given and does not match (the
    tree written so far is left for the caller to discard), LayerError for a corrupt stream or a
    refused entry, OSError for I/O failures. Releases the GIL while it works.
    """

def pack_layer(
    src: str,
    out: str,
    *,
    compression: Literal["gzip", "zstd", "none"] = "gzip",
    level: int | None = None,
) -> LayerDigests:
    """Write the directory tree `src` as a deterministic layer tar to the new file `out`.

    Overlay whiteouts in `src` (0:0 character devices, opaque directories) become OCI `.wh.`
    entries. Entries are sorted by name; the output depends only on the tree's content and
    metadata, never on the time of packing. Returns both digests of what was written.
    Raises LayerError or OSError. Releases the GIL while it works.
    """

class ContainerError(NativeError):
    """A container could not be started. `args` is `(message, exit_code)`: the message names
    the step that failed ("mount /proc: ...", "exec \\"sh\\": ..."); the exit code is Docker's
    (127 command not found, 126 cannot be executed, 125 anything else)."""

def exec_process(
    bundle: str,
    pid: int,
    pid_start: int,
    args: list[str],
    env: list[str],
    *,
    uid: int,
    gid: int,
    groups: list[int],
    cwd: str,
    cgroups: list[str] = ...,
    stdin: bool = False,
    tty: bool = False,
    detach: bool = False,
) -> tuple[int, int | None]:
    """Run `args` in the running container whose init is `pid` (started at `pid_start`,
    field 22 of /proc/<pid>/stat: a recycled pid is refused), as `docker exec` does.

    Capabilities, rlimits, no_new_privs and the seccomp filter come from the container's
    `bundle`; `env`, `uid`/`gid`/`groups` and `cwd` (absolute) are the process's own. The
    joining process is made non-dumpable first (CVE-2019-5736), writes itself into each
    `cgroups` file (`cgroup.procs`), joins the container's namespaces by fd, forks into its
    pid namespace; the child closes every fd but stdio (CVE-2024-21626) and execs the command
    itself. Stdio goes through pipes (or a new pty with `tty`) relayed by the caller: our stdin
    only with `stdin`. `detach` gives it /dev/null and returns once it has started.

    Returns `(pid, exit_code)` (the host pid; `exit_code` is None when detached). Raises
    ContainerError `(message, code)`: 127 command not found, 126 cannot be executed, 125
    anything else (the container is not running, a bad working directory...). Releases the GIL.
    """

def start_container(
    bundle: str,
    state: str,
    log: str,
    *,
    attach: bool = False,
    remove: str | None = None,
    trash: str | None = None,
    interactive: bool = False,
    exit_command: list[str] | None = None,
    exit_if: str | None = None,
) -> tuple[int, int | None]:
    """Run the OCI bundle at `bundle` (its `config.json`) as a container under a new monitor.

    The monitor is a daemonless per-container process that outlives the caller: it clones the
    container's init into the spec's namespaces, appends the output to `log` (Docker's
    json-file lines), reaps the init and records `state` (`state.json`, replaced by rename:
    status, pid and its start time, exit code, times). With `attach`, output is relayed to our
    stdout/stderr, SIGINT/SIGTERM/SIGHUP/SIGQUIT/SIGUSR1/SIGUSR2 are forwarded to the
    container and the call returns when it exits. `remove` (with `trash`, a directory on the
    same filesystem) is deleted once the container has exited. `interactive` (with `attach`)
    gives the container our stdin. With `process.terminal` in the spec, the init makes a pty
    of the container's devpts its stdio and the monitor relays its master (our terminal in raw
    mode while attached and interactive, SIGWINCH carried to the pty). `exit_command` (argv,
    its first item an absolute path) is run by the monitor, which waits for it, once the
    container is finished for good: it exited and no restart follows, or it never started;
    with `exit_if`, only if that file still exists then (a caller told of that exit, attached
    or by a failed start, has two seconds to remove it first).

    Returns `(pid, exit_code)`; `exit_code` is None unless attached. Raises ContainerError
    when the container could not be started. Releases the GIL while it works.
    """

def prime_cgroups(hold: float = 1.0) -> None:
    """Set off, in a native thread, the RCU grace period (5-20 ms) that the first cgroup
    migration of a start waits for, and keep migrations fast for up to `hold` seconds or until
    the next `start_container` has made its own. Call it early in a command that will start a
    container: the wait then runs while Python works. Best effort, never raises; returns at
    once.
    """

def pin_netns(path: str) -> None:
    """Make a new network namespace, bring its loopback up and pin it by a bind mount on
    `path` (created if missing), as `unshare --net=FILE` does, from a short-lived thread: the
    caller's namespace never changes. Native because Python 3.11 has no unshare(2) or
    mount(2), and the two processes it replaces (`unshare`, `true`) were a tenth of what a
    bridged `pycore run` spent on networking. Raises OSError. Releases the GIL.
    """

class NetlinkError(NativeError):
    """The kernel refused a network plumbing request. `args` is `(message, errno)`: the
    message is one line naming the operation, the link and the kernel's errno text (e.g.
    `veth add veth1a2b3c: File exists`); `errno` is None when no errno was involved (a
    malformed answer, an invalid interface name)."""

def plumb_veth(
    bridge: str,
    veth: str,
    netns: str,
    iface: str,
    address: str,
    gateway: str | None = None,
) -> None:
    """Connect the namespace pinned at `netns` to `bridge` over rtnetlink (NETLINK_ROUTE).

    One RTM_NEWLINK makes the veth pair: the host end `veth`, up, enslaved to `bridge`, and
    its peer `iface` created directly inside the namespace. A stale host link named `veth`
    (the last run's, not yet destroyed with its namespace) is deleted first. Then, through a
    netlink socket made inside the namespace by a short-lived thread (the caller's own
    namespace never changes): `address` (CIDR, `10.88.0.2/16`) on `iface`, `iface` up, and,
    when `gateway` is given, the default route via it. The namespace's loopback is already
    up (`pin_netns` brings it up).

    Why native: it replaces two `ip -batch` processes and an `nsenter` on every bridged
    `pycore run`. Raises NetlinkError (after deleting the veth if it was made, so nothing
    half-made is left), ValueError for a malformed `address` or `gateway`. Releases the GIL.
    """

def unpin_netns(path: str) -> None:
    """Detach the mount on `path` (MNT_DETACH) and remove the file; nothing there is not an
    error. Replaces a `umount -l` process per container exit. Raises OSError.
    """

def open_overlay(lowerdirs: list[str], upperdir: str, workdir: str) -> int:
    """Mount the overlay of `lowerdirs` (top first), `upperdir` and `workdir` as a detached
    mount (fsopen/fsconfig/fsmount) and return a new O_CLOEXEC fd on its root; the caller owns
    and closes it.

    Why native: a stopped container's merged view (for `cp`, `export` and pre-filling a new
    volume from the image) without mounting anything in a namespace: the mount is in no mount
    table, invisible to other processes, and disappears with its last fd, even after a crash.
    Paths inside it must still be resolved beneath the fd (the caller walks with O_NOFOLLOW).

    Raises OSError (errno, "fsconfig upperdir: ...", upperdir) when the kernel refuses,
    ValueError for an empty `lowerdirs` or a path with a NUL byte. Releases the GIL.
    """
