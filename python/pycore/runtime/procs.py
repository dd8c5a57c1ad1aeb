"""The processes of a running container seen from the host: `top` (its pid namespace's
processes, Docker's `ps -ef` columns), `stats` (CPU, memory and pids from its cgroup, or from
/proc of its processes when it has no cgroup) and `pause`/`unpause` (the freezer: v1
`freezer.state` or v2 `cgroup.freeze`; SIGSTOP/SIGCONT of every process without one)."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Sequence
from pathlib import Path

from pycore.errors import Conflict
from pycore.runtime import cgroups
from pycore.runtime.containers import Container
from pycore.runtime.exec import running_process
from pycore.structs import struct

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/<pid>/stat from field 3 on (after the command name)."""
    try:
        data = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    return data[data.rindex(b")") + 2 :].decode().split()


def _ns(pid: int | str) -> int | None:
    try:
        return os.stat(f"/proc/{pid}/ns/pid").st_ino
    except OSError:
        return None


def container_pids(c: Container) -> list[int]:
    """Host pids of every process in the container's pid namespace, init first."""
    init, _ = running_process(c)
    ns = _ns(init)
    pids = [init]
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) != init and _ns(name) == ns:
            pids.append(int(name))
    return [init, *sorted(pids[1:])]


# -- top -----------------------------------------------------------------------------------

TOP_TITLES = ("UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD")


def _user(uid: int) -> str:
    import pwd

    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _tty(nr: int) -> str:
    if nr == 0:
        return "?"
    major, minor = (nr >> 8) & 0xFFF, (nr & 0xFF) | ((nr >> 12) & 0xFFF00)
    if major == 136:
        return f"pts/{minor}"
    if major == 4:
        return f"tty{minor}"
    return "?"


def top_row(pid: int, boot: float, now: float) -> tuple[str, ...] | None:
    """One `ps -ef` row of a host process, or None if it is gone."""
    f = _stat_fields(pid)
    if f is None:
        return None
    try:
        uid = os.stat(f"/proc/{pid}").st_uid
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").strip()
    except OSError:
        return None
    ppid, tty_nr = int(f[1]), int(f[4])
    cpu_ticks = int(f[11]) + int(f[12])
    started = boot + int(f[19]) / CLK_TCK
    elapsed = max(now - started, 1e-9)
    c = min(int(cpu_ticks / CLK_TCK / elapsed * 100), 99)
    stime = time.strftime("%H:%M" if now - started < 86400 else "%b%d", time.localtime(started))
    secs = cpu_ticks // CLK_TCK
    cputime = f"{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}"
    comm = Path(f"/proc/{pid}/comm").read_text().strip() if not cmd else ""
    return (
        _user(uid),
        str(pid),
        str(ppid),
        str(c),
        stime,
        _tty(tty_nr),
        cputime,
        cmd.decode(errors="replace") or f"[{comm}]",
    )


def _boot_time() -> float:
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    return 0.0


def top(c: Container, ps_args: Sequence[str] = ()) -> tuple[list[str], list[list[str]]]:
    """(titles, rows) of the container's processes. Without `ps_args`, from /proc with
    `ps -ef`'s columns; with them, the host's `ps ARGS` filtered to the container's pids
    (Docker's way: it needs a PID column)."""
    pids = container_pids(c)
    if not ps_args:
        boot, now = _boot_time(), time.time()
        found = [r for p in pids if (r := top_row(p, boot, now))]
        return list(TOP_TITLES), [list(r) for r in found]
    import subprocess

    out = subprocess.run(["ps", *ps_args], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise Conflict(f"ps: {out.stderr.strip() or 'failed'}")
    lines = out.stdout.splitlines()
    titles = lines[0].split()
    if "PID" not in titles:
        raise Conflict(f'Couldn\'t find PID field in ps output: "ps {" ".join(ps_args)}"')
    col = titles.index("PID")
    wanted = set(map(str, pids))
    rows: list[list[str]] = []
    for line in lines[1:]:
        fields = line.split(None, len(titles) - 1)
        if len(fields) > col and fields[col] in wanted:
            rows.append(fields)
    return titles, rows


# -- pause -------------------------------------------------------------------------------


def _freezer(c: Container) -> tuple[Path, bytes, bytes] | None:
    """(file, frozen value, thawed value) of the container's freezer, if it has one."""
    fz = cgroups.freezer(c.id)
    return None if fz is None else (Path(fz[0]), fz[1], fz[2])


def _stopped_marker(c: Container) -> Path:
    return Path(c.dir.path, cgroups.PAUSED_MARK)


def is_paused(c: Container) -> bool:
    return cgroups.paused(c.id, c.dir.text)


def pause(c: Container) -> None:
    """Freeze every process of the container (Docker: `pause`)."""
    running_process(c)
    if is_paused(c):
        raise Conflict(f"Container {c.id} is already paused")
    fz = _freezer(c)
    if fz is not None:
        fz[0].write_bytes(fz[1])
        if fz[0].name == "freezer.state":
            # v1 freezes asynchronously: FREEZING until every task is stopped.
            for _ in range(200):
                if fz[0].read_bytes().strip() == b"FROZEN":
                    break
                time.sleep(0.005)
        return
    # No freezer cgroup: SIGSTOP every process of its pid namespace (a process forked in
    # between is caught by a second pass), and remember it.
    _stopped_marker(c).write_text("")
    for _ in range(2):
        for pid in container_pids(c):
            _signal(pid, signal.SIGSTOP)


def unpause(c: Container) -> None:
    running_process(c)
    if not is_paused(c):
        raise Conflict(f"Container {c.id} is not paused")
    fz = _freezer(c)
    if fz is not None:
        fz[0].write_bytes(fz[2])
        return
    for pid in container_pids(c):
        _signal(pid, signal.SIGCONT)
    _stopped_marker(c).unlink(missing_ok=True)


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


# -- stats -------------------------------------------------------------------------------


@struct(frozen=True, slots=True)
class Sample:
    cpu_ns: int
    memory: int
    limit: int
    pids: int
    at: float
    source: str  # "cgroup" or "proc"


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _mem_total() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return 0


def _kv(path: Path) -> dict[str, int]:
    try:
        return {k: int(v) for k, v in (ln.split() for ln in path.read_text().splitlines())}
    except (OSError, ValueError):
        return {}


def sample(c: Container) -> Sample:
    """One reading of the container's usage: from its cgroup (v1 cpuacct/memory/pids, or the
    v2 files) when it has one, else summed over /proc of its processes."""
    dirs = {d.parent.parent.name: d for d in map(Path, cgroups.container_dirs(c.id))}
    total = _mem_total()
    now = time.monotonic()
    cpu = mem = limit = pids = None
    if (d := dirs.get("cpuacct")) is not None:
        cpu = _read_int(d / "cpuacct.usage")
    if (d := dirs.get("memory")) is not None:
        usage = _read_int(d / "memory.usage_in_bytes")
        if usage is not None:
            # Docker's figure: usage less the inactive page cache.
            mem = usage - _kv(d / "memory.stat").get("total_inactive_file", 0)
        limit = _read_int(d / "memory.limit_in_bytes")
    if (d := dirs.get("pids")) is not None:
        pids = _read_int(d / "pids.current")
    if cpu is not None and mem is not None and pids is not None:
        return Sample(cpu, max(mem, 0), min(limit or total, total), pids, now, "cgroup")
    procs = container_pids(c)
    ticks = rss = 0
    for p in procs:
        f = _stat_fields(p)
        if f:
            ticks += int(f[11]) + int(f[12])
            rss += int(f[21]) * PAGE
    return Sample(ticks * 1_000_000_000 // CLK_TCK, rss, total, len(procs), now, "proc")


def cpu_percent(a: Sample, b: Sample) -> float:
    """CPU use between two samples as Docker shows it (100% = one CPU busy)."""
    wall = (b.at - a.at) * 1e9
    return 0.0 if wall <= 0 else max(b.cpu_ns - a.cpu_ns, 0) / wall * 100.0
