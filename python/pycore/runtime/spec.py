"""The OCI runtime spec (`config.json`) for one container, from the image config and the run
options, with Docker's semantics and defaults (moby `daemon/oci_linux.go`, `oci/defaults.go`).
Pure: no I/O; everything it needs from the disk comes in as arguments."""

from __future__ import annotations

from pycore.errors import ContainerError, UsageError
from pycore.runtime.options import RunOptions
from pycore.runtime.users import ResolvedUser
from pycore.structs import struct

TYPE_CHECKING = False  # not typing's: importing typing costs every CLI start
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any

OCI_VERSION = "1.2.0"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# Docker's default capability set (moby oci/caps/defaults.go).
DEFAULT_CAPS = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
)

# Every capability, in number order (capabilities(7)).
ALL_CAPS = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
)

MASKED_PATHS = (
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
)
READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")

ANNOTATION_LOWERDIRS = "org.pycore.overlay.lowerdirs"
ANNOTATION_UPPERDIR = "org.pycore.overlay.upperdir"
ANNOTATION_WORKDIR = "org.pycore.overlay.workdir"


@struct(frozen=True, slots=True)
class Process:
    """What the container runs, after Docker's Entrypoint/Cmd/Env/WorkingDir/User rules."""

    args: tuple[str, ...]
    env: tuple[str, ...]
    cwd: str
    user: str


@struct(frozen=True, slots=True)
class Rootfs:
    """Where the container's root comes from: the image layers (top first), the container's
    upper and work directories, and the mount point."""

    path: str
    lowerdirs: tuple[str, ...]
    upperdir: str
    workdir: str


def _list(v: Any) -> list[str] | None:
    if v is None:
        return None
    if isinstance(v, list) and all(isinstance(x, str) for x in v):
        return list(v)
    if isinstance(v, str):
        return ["/bin/sh", "-c", v]
    return None


def merge_env(base: Sequence[str], overrides: Sequence[str]) -> list[str]:
    """Later entries replace earlier ones with the same key, keeping the first position."""
    out: dict[str, str] = {}
    for item in (*base, *overrides):
        key = item.partition("=")[0]
        out[key] = item
    return list(out.values())


def resolve_process(image_config: Mapping[str, Any], opts: RunOptions) -> Process:
    """Docker's rules: `--entrypoint` replaces the image's Entrypoint and drops its Cmd (an
    empty `--entrypoint ""` means none); a command given replaces Cmd; `-e` overrides the
    image's Env by key; `-w` must be absolute; `-u` replaces User."""
    entrypoint = _list(image_config.get("Entrypoint")) or []
    cmd = _list(image_config.get("Cmd")) or []
    if opts.entrypoint is not None:
        entrypoint = [opts.entrypoint] if opts.entrypoint else []
        cmd = []
    if opts.command:
        cmd = list(opts.command)
    args = (*entrypoint, *cmd)
    if not args:
        raise ContainerError("no command specified")
    env = merge_env(list(_list(image_config.get("Env")) or []), opts.env)
    cwd = opts.workdir if opts.workdir is not None else image_config.get("WorkingDir") or "/"
    if not isinstance(cwd, str) or not cwd.startswith("/"):
        raise UsageError(
            f"the working directory '{cwd}' is invalid, it needs to be an absolute path"
        )
    user = opts.user if opts.user is not None else str(image_config.get("User") or "")
    return Process(tuple(args), tuple(env), cwd, user)


def capabilities(opts: RunOptions) -> list[str]:
    """Docker's default set, or all with `--privileged`, then `--cap-add` / `--cap-drop`
    (`ALL` allowed in both; names with or without `CAP_`)."""

    def norm(c: str) -> str:
        c = c.upper()
        return c if c.startswith("CAP_") or c == "ALL" else f"CAP_{c}"

    caps = list(ALL_CAPS if opts.privileged else DEFAULT_CAPS)
    adds = [norm(c) for c in opts.cap_add]
    drops = [norm(c) for c in opts.cap_drop]
    for c in (*adds, *drops):
        if c != "ALL" and c not in ALL_CAPS:
            raise UsageError(f"unknown capability: {c!r}")
    if "ALL" in drops:
        caps = []
    caps = [c for c in caps if c not in drops]
    caps += list(ALL_CAPS) if "ALL" in adds else [c for c in adds if c not in drops]
    return list(dict.fromkeys(caps))


def _mounts(opts: RunOptions, etc_files: Mapping[str, str]) -> list[dict[str, Any]]:
    sys_opts = ["nosuid", "noexec", "nodev", "rw" if opts.privileged else "ro"]
    mounts: list[dict[str, Any]] = [
        {"destination": "/proc", "type": "proc", "source": "proc",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": sys_opts},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=67108864"]},
    ]  # fmt: skip
    for dest, source in etc_files.items():
        mounts.append(
            {
                "destination": dest,
                "type": "bind",
                "source": source,
                "options": ["rbind", "rprivate"],
            }
        )
    return mounts


def _with_user_mounts(
    defaults: list[dict[str, Any]], user: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    # Shallower first, so /etc/hosts lands on a volume mounted at /etc (Docker sorts too);
    # the sort is stable, keeping /dev before /dev/pts.
    if not user:
        return defaults
    taken = {m["destination"] for m in user}
    out = [m for m in defaults if m["destination"] not in taken] + [dict(m) for m in user]
    return sorted(out, key=lambda m: len([p for p in m["destination"].split("/") if p]))


def build_spec(
    image_config: Mapping[str, Any],
    opts: RunOptions,
    *,
    hostname: str,
    rootfs: Rootfs,
    user: ResolvedUser,
    seccomp: Mapping[str, Any] | None,
    etc_files: Mapping[str, str] | None = None,
    user_mounts: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """The `config.json` of a container. `user` is `-u`/User resolved against the image's
    passwd and group files; `seccomp` the OCI form of the profile (None: unconfined);
    `etc_files` maps /etc/hosts, /etc/hostname, /etc/resolv.conf to the host files to bind;
    `user_mounts` (volumes, binds, tmpfs; see `runtime.volumes.prepare`) come last, replacing
    a default mount at the same destination."""
    proc = resolve_process(image_config, opts)
    env = [f"HOSTNAME={hostname}", *proc.env]
    env = merge_env(env, [])
    if not any(e.startswith("PATH=") for e in env):
        env.insert(0, f"PATH={DEFAULT_PATH}")
    if not any(e.startswith("HOME=") for e in env):
        env.append(f"HOME={user.home}")
    caps = capabilities(opts)
    namespaces = [{"type": t} for t in ("pid", "ipc", "uts", "mount", "cgroup")]
    if opts.network != "host":
        namespaces.append({"type": "network"})
    user_obj: dict[str, Any] = {"uid": user.uid, "gid": user.gid}
    if user.additional_gids:
        user_obj["additionalGids"] = list(user.additional_gids)
    linux: dict[str, Any] = {"namespaces": namespaces, "rootfsPropagation": "private"}
    if not opts.privileged:
        linux["maskedPaths"] = list(MASKED_PATHS)
        linux["readonlyPaths"] = list(READONLY_PATHS)
    if seccomp is not None and not opts.privileged:
        linux["seccomp"] = dict(seccomp)
    return {
        "ociVersion": OCI_VERSION,
        "root": {"path": rootfs.path, "readonly": opts.read_only},
        "hostname": hostname,
        "process": {
            "terminal": False,
            "user": user_obj,
            "args": list(proc.args),
            "env": env,
            "cwd": proc.cwd,
            "capabilities": {
                "bounding": caps,
                "effective": caps,
                "permitted": caps,
            },
            "noNewPrivileges": opts.no_new_privileges,
        },
        "mounts": _with_user_mounts(_mounts(opts, etc_files or {}), user_mounts),
        "linux": linux,
        "annotations": {
            ANNOTATION_LOWERDIRS: ":".join(rootfs.lowerdirs),
            ANNOTATION_UPPERDIR: rootfs.upperdir,
            ANNOTATION_WORKDIR: rootfs.workdir,
        },
    }
