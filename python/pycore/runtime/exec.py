"""`exec`: a new process in a running container, with Docker's rules for its environment
(the container's, then `-e`), user (resolved in the container's own /etc/passwd and
/etc/group) and working directory (the container's unless `-w`). The joining itself is native
(`pycore.native.exec_process`)."""

from __future__ import annotations

import os

from pycore import native
from pycore.errors import ContainerNotRunning, UsageError
from pycore.runtime import records, users
from pycore.runtime.containers import Container, ContainerService
from pycore.runtime.records import start_time
from pycore.structs import struct

TYPE_CHECKING = False  # not typing's: importing typing costs every CLI start
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

CGROUP_MOUNTS = "/proc/self/mountinfo"
OVERLAY_LOWERDIRS = "org.pycore.overlay.lowerdirs"


@struct(frozen=True, slots=True)
class ExecOptions:
    """What `pycore exec` was asked for."""

    command: tuple[str, ...]
    env: tuple[str, ...] = ()
    user: str | None = None
    workdir: str | None = None
    interactive: bool = False
    tty: bool = False
    detach: bool = False


@struct(frozen=True, slots=True)
class ExecResult:
    pid: int
    exit_code: int | None


def running_process(c: Container) -> tuple[int, int]:
    """(pid, start time) of the container's init; ContainerNotRunning unless it runs."""
    if c.running:
        raw = records.raw_state(c.dir.text) or {}
        pid, start = raw.get("pid"), raw.get("pid_start")
        if isinstance(pid, int) and isinstance(start, int) and start_time(pid) == start:
            return pid, start
    raise ContainerNotRunning(f"container {c.id} is not running")


def merge_env(base: Sequence[str], extra: Sequence[str]) -> list[str]:
    """The container's environment with `extra` (`K=V`) replacing or adding variables."""
    out: dict[str, str] = {}
    for entry in (*base, *extra):
        key = entry.partition("=")[0]
        out[key] = entry
    return list(out.values())


def _cgroup_lines(pid: int | str) -> dict[str, str]:
    """/proc/<pid>/cgroup as {controllers: path} ("" is the v2 hierarchy)."""
    try:
        with open(f"/proc/{pid}/cgroup", encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return {}
    out = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3:
            out[parts[1]] = parts[2]
    return out


def _cgroup_mounts() -> dict[str, str]:
    """Mount point of each hierarchy, keyed as /proc/<pid>/cgroup names them."""
    out: dict[str, str] = {}
    with open(CGROUP_MOUNTS, encoding="utf-8") as f:
        lines = f.read().splitlines()
    for line in lines:
        left, _, right = line.partition(" - ")
        fields, rfields = left.split(), right.split()
        if len(rfields) < 3 or rfields[0] not in ("cgroup", "cgroup2"):
            continue
        if rfields[0] == "cgroup2":
            out.setdefault("", fields[4])
            continue
        opts = rfields[2].split(",")
        names = [o for o in opts if o.startswith("name=")]
        known = {"rw", "ro", "nosuid", "nodev", "noexec", "relatime", "xattr", "clone_children"}
        controllers = [o for o in opts if o not in known and "=" not in o]
        key = ",".join(names or controllers)
        out.setdefault(key, fields[4])
    return out


def cgroup_procs(pid: int, monitor_pid: int | None) -> list[str]:
    """The `cgroup.procs` files of the cgroups the container's init is in, wherever they
    differ from its monitor's (the container's own cgroups; none when it has none)."""
    theirs = _cgroup_lines(pid)
    base = _cgroup_lines(monitor_pid) if monitor_pid else {}
    mounts = _cgroup_mounts()
    out = []
    for key, path in sorted(theirs.items()):
        if base.get(key) == path or key not in mounts:
            continue
        procs = os.path.join(mounts[key], path.lstrip("/"), "cgroup.procs")
        if os.path.exists(procs):
            out.append(procs)
    return out


def _spec(c: Container) -> dict[str, Any]:
    try:
        return records.bundle_spec(c.dir)
    except (OSError, ValueError) as e:
        raise ContainerNotRunning(f"container {c.id}: its bundle is unreadable: {e}") from e


def exec_in(service: ContainerService, ref: str, opts: ExecOptions) -> ExecResult:
    """Run `opts.command` in the running container `ref`; attached, wait for its exit code.

    Raises ContainerNotFound, ContainerNotRunning (exit 1), UsageError, or ContainerError
    with Docker's code (126 cannot execute, 127 not found, 125 anything else)."""
    if not opts.command:
        raise UsageError('"exec" requires at least 2 arguments')
    if opts.workdir is not None and not opts.workdir.startswith("/"):
        raise UsageError(
            f"the working directory {opts.workdir!r} is invalid, it needs to be absolute"
        )
    c = service.get(ref)
    pid, start = running_process(c)
    from pycore.runtime import cgroups

    if cgroups.paused(c.id, c.dir.text):
        # It would join the frozen cgroup and hang there.
        raise ContainerNotRunning(f"Container {c.id} is paused, unpause the container before exec")
    spec = _spec(c)
    process = spec.get("process", {})
    env = merge_env(process.get("env", []), opts.env)
    user_spec = opts.user if opts.user is not None else c.record.get("Config", {}).get("User", "")
    lowers = str(spec.get("annotations", {}).get(OVERLAY_LOWERDIRS, ""))
    layers = [c.dir.upper, *(p for p in lowers.split(":") if p)]
    user = users.resolve(
        user_spec or "0",
        users.read_image_file(layers, "etc/passwd"),
        users.read_image_file(layers, "etc/group"),
    )
    if opts.user is not None and not any(e.startswith("HOME=") for e in opts.env):
        env = merge_env(env, [f"HOME={user.home}"])
    monitor = (records.raw_state(c.dir.text) or {}).get("monitor_pid")
    exec_pid, code = native.exec_process(
        c.dir.bundle,
        pid,
        start,
        list(opts.command),
        env,
        uid=user.uid,
        gid=user.gid,
        groups=list(user.additional_gids),
        cwd=opts.workdir or process.get("cwd") or "/",
        cgroups=cgroup_procs(pid, monitor if isinstance(monitor, int) else None),
        stdin=opts.interactive,
        tty=opts.tty,
        detach=opts.detach,
    )
    return ExecResult(exec_pid, code)
