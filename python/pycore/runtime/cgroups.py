"""Container resource limits (`--memory`, `--memory-swap`, `--cpus`, `--cpu-shares`,
`--pids-limit`) as the runtime spec's `linux.resources`, each container's cgroup path
(`pycore/<id>` in every hierarchy), and the removal of cgroups a killed monitor left behind.
The runtime (Rust) creates the cgroup and moves the container in before its code runs."""

from __future__ import annotations

import os
import time

from pycore.errors import UsageError
from pycore.structs import struct

TYPE_CHECKING = False  # not typing's: importing typing costs every CLI start
if TYPE_CHECKING:
    from typing import Any

    StrPath = str | os.PathLike[str]

CGROUP_ROOT = "/sys/fs/cgroup"
PARENT = "pycore"
CPU_PERIOD = 100_000
MIN_MEMORY = 6 * 1024 * 1024  # Docker refuses less ("Minimum memory limit allowed is 6MB").

_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


@struct(frozen=True, slots=True)
class Resources:
    """Limits for one container; None leaves the kernel's default (unlimited)."""

    memory: int | None = None
    memory_swap: int | None = None  # memory plus swap, -1 unlimited (Docker's meaning)
    cpu_quota: int | None = None
    cpu_period: int | None = None
    cpu_shares: int | None = None
    pids_limit: int | None = None

    def oci(self) -> dict[str, Any]:
        """`linux.resources` of the runtime spec."""
        out: dict[str, Any] = {}
        if self.memory is not None:
            out["memory"] = {"limit": self.memory}
            if self.memory_swap is not None:
                out["memory"]["swap"] = self.memory_swap
        cpu: dict[str, int] = {}
        if self.cpu_shares is not None:
            cpu["shares"] = self.cpu_shares
        if self.cpu_quota is not None:
            cpu["quota"] = self.cpu_quota
            cpu["period"] = self.cpu_period or CPU_PERIOD
        if cpu:
            out["cpu"] = cpu
        if self.pids_limit is not None:
            out["pids"] = {"limit": self.pids_limit}
        return out

    def host_config(self) -> dict[str, Any]:
        """Docker's HostConfig fields for `inspect` (0 means unset, as Docker shows it)."""
        return {
            "Memory": self.memory or 0,
            "MemorySwap": self.memory_swap or 0,
            "NanoCpus": (self.cpu_quota or 0) * 1_000_000_000 // (self.cpu_period or CPU_PERIOD),
            "CpuShares": self.cpu_shares or 0,
            "PidsLimit": self.pids_limit,
        }


def parse_size(text: str) -> int:
    """Docker's RAMInBytes: `64m`, `1g`, `512k`, `100` (bytes); binary units."""
    from pycore.units import split_size

    parsed = split_size(text, "kmgtp")
    if parsed is None:
        raise UsageError(f"invalid size: {text!r}")
    number, unit = parsed
    return int(number * _UNITS[unit])


def parse(
    *,
    memory: str | None = None,
    memory_swap: str | None = None,
    cpus: str | None = None,
    cpu_shares: int | None = None,
    pids_limit: int | None = None,
) -> Resources | None:
    """The run options as Resources (None when none was given), with Docker's checks and its
    default of swap = memory (so memory plus swap = twice the memory)."""
    if (memory, memory_swap, cpus, cpu_shares, pids_limit) == (None, None, None, None, None):
        return None
    mem = parse_size(memory) if memory else None
    if mem is not None and mem < MIN_MEMORY:
        raise UsageError("Minimum memory limit allowed is 6MB")
    swap: int | None = None
    if memory_swap:
        swap = -1 if memory_swap.strip() == "-1" else parse_size(memory_swap)
        if mem is None:
            raise UsageError(
                "You should always set the Memory limit when using Memoryswap limit, see usage"
            )
        if swap != -1 and swap < mem:
            raise UsageError(
                "Minimum memoryswap limit should be larger than memory limit, see usage"
            )
    elif mem is not None:
        swap = 2 * mem
    quota = period = None
    if cpus is not None:
        try:
            value = float(cpus)
        except ValueError as e:
            raise UsageError(f"invalid argument {cpus!r} for --cpus") from e
        ncpu = os.cpu_count() or 1
        if value < 0 or value > ncpu:
            raise UsageError(
                f"range of CPUs is from 0.01 to {ncpu}.00, as there are only {ncpu} CPUs available"
            )
        if value > 0:
            period = CPU_PERIOD
            quota = round(value * CPU_PERIOD)
    shares = cpu_shares or None
    if shares is not None and shares < 0:
        raise UsageError("invalid --cpu-shares: must be positive")
    pids = pids_limit if pids_limit is not None and pids_limit > 0 else None
    if pids_limit is not None and pids_limit <= 0:
        pids = -1
    return Resources(mem, swap, quota, period, shares, pids)


def cgroups_path(container_id: str) -> str:
    """`linux.cgroupsPath`: from the root of every hierarchy, like Docker's `/docker/<id>`."""
    return f"/{PARENT}/{container_id}"


def _hierarchies(root: StrPath) -> list[str]:
    """The hierarchies a container's cgroup may be under: the v2 tree, or each v1 one and
    the hybrid layout's `unified`."""
    root = os.fspath(root)
    if os.path.exists(f"{root}/cgroup.controllers"):
        return [root]
    try:
        names = os.listdir(root)
    except OSError:
        return []
    return [f"{root}/{n}" for n in names if os.path.exists(f"{root}/{n}/cgroup.procs")]


def container_dirs(container_id: str, root: StrPath = CGROUP_ROOT) -> list[str]:
    """The container's cgroup directories that exist now."""
    return [d for h in _hierarchies(root) if os.path.isdir(d := f"{h}/{PARENT}/{container_id}")]


def remove(container_id: str, root: StrPath = CGROUP_ROOT) -> None:
    """Remove the container's cgroups; ones still holding processes stay (EBUSY)."""
    for d in container_dirs(container_id, root):
        try:
            os.rmdir(d)
        except OSError:
            pass


def freezer(container_id: str, root: StrPath = CGROUP_ROOT) -> tuple[str, bytes, bytes] | None:
    """(file, frozen value, thawed value) of the container's freezer (v1 `freezer.state`, v2
    `cgroup.freeze`), None when it has none."""
    for d in container_dirs(container_id, root):
        if os.path.exists(f"{d}/freezer.state"):
            return f"{d}/freezer.state", b"FROZEN", b"THAWED"
        if os.path.exists(f"{d}/cgroup.freeze"):
            return f"{d}/cgroup.freeze", b"1", b"0"
    return None


PAUSED_MARK = "paused"  # in the container's directory: `pause` without a freezer (SIGSTOP)


def paused(container_id: str, container_dir: str, root: StrPath = CGROUP_ROOT) -> bool:
    """The container is paused: its freezer holds it, or, without a freezer, `pause` stopped
    its processes and left its mark in the container's directory."""
    fz = freezer(container_id, root)
    if fz is None:
        return os.path.exists(f"{container_dir}/{PAUSED_MARK}")
    try:
        with open(fz[0], "rb") as f:
            value = f.read().strip()
    except OSError:
        return False
    return value in (b"FROZEN", b"FREEZING", b"1")


def sweep(root: StrPath = CGROUP_ROOT, *, min_age: float = 30.0) -> list[str]:
    """Remove empty container cgroups left by monitors that were killed (`kill -9`).

    A cgroup with processes cannot be removed (EBUSY), so this never touches a running
    container, whatever store it belongs to; `min_age` spares one a monitor has just made and
    not yet joined. Returns the ids of what was removed."""
    now = time.time()
    removed = []
    for h in _hierarchies(root):
        try:  # scandir: the parent also holds the controller's files (no stat for those)
            entries = list(os.scandir(f"{h}/{PARENT}"))
        except OSError:
            continue
        for entry in entries:
            try:
                if not entry.is_dir(follow_symlinks=False):
                    continue
                if now - entry.stat().st_mtime < min_age:
                    continue
                os.rmdir(entry.path)
            except OSError:
                continue
            removed.append(entry.name)
    return removed
