"""Container records under `<root>/containers/<id>/`: `container.json` (what was asked, written
once by rename) and `state.json` (what happened, written by the monitor by rename). The status
is derived from both and checked against the live process table: a pid counts as the
container's only while its start time matches the one recorded."""

from __future__ import annotations

import os
import time

from pycore import jsonio
from pycore.store import atomic
from pycore.structs import struct

TYPE_CHECKING = False  # not typing's: importing typing costs every CLI start
if TYPE_CHECKING:
    from typing import Any, Literal

    Status = Literal["created", "running", "exited"]
LOST_EXIT_CODE = 255
CREATING = "creating"
STARTING = "starting"


class ContainerDir:
    """Paths of one container's directory, as strings (no pathlib on the run path)."""

    __slots__ = ("_text",)

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._text = os.fspath(path)

    def __repr__(self) -> str:
        return f"ContainerDir({self._text!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ContainerDir) and other._text == self._text

    def __hash__(self) -> int:
        return hash(self._text)

    @property
    def path(self) -> str:
        return self._text

    @property
    def text(self) -> str:
        return self._text

    @property
    def config(self) -> str:
        return f"{self._text}/container.json"

    @property
    def state(self) -> str:
        return f"{self._text}/state.json"

    @property
    def log(self) -> str:
        return f"{self._text}/container.log"

    @property
    def bundle(self) -> str:
        return f"{self._text}/bundle"

    @property
    def rootfs(self) -> str:
        return f"{self._text}/rootfs"

    @property
    def upper(self) -> str:
        return f"{self._text}/upper"

    @property
    def work(self) -> str:
        return f"{self._text}/work"


@struct(frozen=True, slots=True)
class State:
    """What the monitor last recorded, reconciled with the process table."""

    status: Status
    pid: int = 0
    exit_code: int | None = None
    started_at: str | None = None
    finished_at: str | None = None
    error: str | None = None
    monitor_alive: bool = False
    oom_killed: bool = False
    restart_count: int = 0
    restarting: bool = False


@struct(frozen=True, slots=True)
class Container:
    """One container: its record (`container.json`) and its reconciled state."""

    id: str
    name: str
    image: str
    image_id: str
    created: str
    args: tuple[str, ...]
    record: dict[str, Any]
    state: State
    dir: ContainerDir

    @property
    def short_id(self) -> str:
        return self.id[:12]

    @property
    def command(self) -> str:
        return " ".join(self.args)

    @property
    def running(self) -> bool:
        return self.state.status == "running"

    @property
    def auto_remove(self) -> bool:
        return bool(self.record.get("HostConfig", {}).get("AutoRemove"))


def _stat(pid: int) -> tuple[str, int] | None:
    """(state letter, start time) from /proc/<pid>/stat (fields 3 and 22)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    try:
        fields = data[data.rindex(b")") + 2 :].split()
        return fields[0].decode(), int(fields[19])
    except (ValueError, IndexError):
        return None


def start_time(pid: int) -> int | None:
    """Field 22 of /proc/<pid>/stat: with the pid, one process for ever."""
    st = _stat(pid)
    return st[1] if st else None


def is_alive(pid: Any, start: Any) -> bool:
    """The process `pid` started at `start` still runs (a zombie has finished: its parent,
    whoever adopted it, may take its time to reap it)."""
    if not isinstance(pid, int) or pid <= 0 or start is None:
        return False
    st = _stat(pid)
    return st is not None and st[1] == start and st[0] not in ("Z", "X")


def _read(path: str) -> bytes:
    """A small file's bytes (os.open: a third of the cost of `open()` per call, which counts
    when `ps` reads a thousand records; reads of 16 KiB, as a larger size is allocated up
    front for every read)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        data = os.read(fd, _CHUNK)
        if len(data) < _CHUNK:
            return data
        chunks = [data]
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


_CHUNK = 16 << 10


def read_state(cdir: ContainerDir) -> State:
    return _state_at(cdir.text)


def _state_at(cdir_path: str) -> State:
    return state_of(raw_state(cdir_path))


def raw_state(cdir_path: str) -> dict[str, Any] | None:
    """`state.json` of a container directory as written; None when there is none; {} when it
    cannot be read or parsed."""
    try:
        raw = jsonio.loads(_read(f"{cdir_path}/state.json"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}
    return raw if isinstance(raw, dict) else {}


def state_of(raw: dict[str, Any] | None) -> State:
    """The state a raw `state.json` (see `raw_state`) means now, its monitor and init looked
    up in /proc (a created container has none to look up)."""
    if raw is None:
        return State("created")
    if not raw:
        return State("exited", exit_code=LOST_EXIT_CODE, error="state.json is corrupt")
    exited = raw.get("status") == "exited"
    monitor = is_alive(raw.get("monitor_pid"), raw.get("monitor_start"))
    common: dict[str, Any] = {
        "pid": int(raw.get("pid") or 0),
        "started_at": raw.get("started_at"),
        "finished_at": raw.get("finished_at"),
        "error": raw.get("error"),
        "monitor_alive": monitor,
        "oom_killed": bool(raw.get("oom_killed")),
        "restart_count": int(raw.get("restart_count") or 0),
    }
    if exited:
        code = raw.get("exit_code")
        return State("exited", exit_code=int(code) if code is not None else None, **common)
    if monitor and raw.get("status") == "restarting":
        # The monitor waits between restarts: Docker's container is then running and
        # restarting, without a pid, with the exit code and time of the run that ended.
        code = raw.get("exit_code")
        code = int(code) if code is not None else None
        return State("running", exit_code=code, restarting=True, **{**common, "pid": 0})
    if monitor or is_alive(raw.get("pid"), raw.get("pid_start")):
        # The monitor outlives its container by the time it takes to drain and record.
        return State("running", **common)
    return State(
        "exited",
        exit_code=LOST_EXIT_CODE,
        **{**common, "error": "the container's monitor died before it exited"},
    )


def await_monitor(raw: dict[str, Any] | None, seconds: float) -> None:
    """Sleep `seconds`, or less: until the monitor `raw` (a `raw_state`) names has exited."""
    seconds = max(seconds, 0.0)
    pid = (raw or {}).get("monitor_pid")
    if not (raw and isinstance(pid, int) and pid > 0):
        time.sleep(seconds)
        return
    try:
        fd = os.pidfd_open(pid)
    except OSError:
        time.sleep(seconds)
        return
    try:
        # Checked after opening: the pidfd pins the process whose start time matched.
        if start_time(pid) == raw.get("monitor_start"):
            import select

            select.select([fd], [], [], seconds)  # readable once it has exited
        else:
            time.sleep(seconds)
    finally:
        os.close(fd)


# A start whose CLI died may still have forked a monitor that is about to record itself; one
# that has not done so within this many seconds never will.
START_GRACE = 5.0


def start_under_way(cdir: ContainerDir) -> bool:
    """A `created` container is being started: the `starting` mark that `start` writes
    before it spawns the monitor names a live CLI, or the CLI died so recently that the
    monitor it forked may still record itself (`START_GRACE`). Not part of `read_state`:
    `ps` need not pay one more open per created container."""
    mark = f"{cdir.text}/{STARTING}"
    try:
        pid, start = (int(x) for x in _read(mark).split())
    except (OSError, ValueError):
        return False
    if is_alive(pid, start):
        return True
    try:
        return time.time() - os.stat(mark).st_mtime < START_GRACE
    except OSError:
        return False


def _mark(path: str) -> None:
    """`pid start-time` of this process into `path`, by rename (not synced: a liveness mark
    means nothing after a reboot)."""
    me = os.getpid()
    tmp = f"{path}.tmp-{me}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, f"{me} {start_time(me)}\n".encode())
    finally:
        os.close(fd)
    os.rename(tmp, path)


def mark_starting(cdir: ContainerDir) -> None:
    """Written by `start` before the monitor is spawned (the state file is gone by then and
    until the monitor writes it); removed by `start` once the monitor has reported."""
    _mark(f"{cdir.text}/{STARTING}")


def unmark_starting(cdir: ContainerDir) -> None:
    try:
        os.unlink(f"{cdir.text}/{STARTING}")
    except FileNotFoundError:
        pass


def read_config(cdir: ContainerDir) -> dict[str, Any] | None:
    return config_at(f"{cdir.text}/container.json")


def config_at(path: str) -> dict[str, Any] | None:
    try:
        value = jsonio.loads(_read(path))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def bundle_spec(cdir: ContainerDir) -> dict[str, Any]:
    """The container's runtime spec (`bundle/config.json`); raises OSError or ValueError."""
    value = jsonio.loads(_read(f"{cdir.bundle}/config.json"))
    return value if isinstance(value, dict) else {}


def write_config(cdir: ContainerDir, value: dict[str, Any]) -> None:
    atomic.write_json(cdir.config, value, mode=0o600)


def list_dirs(containers: str | os.PathLike[str]) -> list[ContainerDir]:
    base = os.fspath(containers)
    try:
        names = os.listdir(base)
    except FileNotFoundError:
        return []
    return [ContainerDir(f"{base}/{n}") for n in names if len(n) == 64]


def mark_creating(cdir: ContainerDir) -> None:
    """Who makes this directory (pid and start time), until its record is written: a create
    killed before that leaves a directory `sweep_unrecorded` can tell from one in progress."""
    _mark(f"{cdir.text}/{CREATING}")


def sweep_unrecorded(
    containers: str | os.PathLike[str], *, min_age: float = 60.0
) -> list[ContainerDir]:
    """Directories without a record whose creator is dead (by its `creating` mark; without
    one, older than `min_age` seconds): what a killed `create` left, for the caller to
    discard."""
    found = []
    now = time.time()
    for cdir in list_dirs(containers):
        if os.path.exists(f"{cdir.text}/container.json"):
            continue
        try:
            pid, start = (int(x) for x in _read(f"{cdir.text}/{CREATING}").split())
        except FileNotFoundError:
            try:
                if now - os.stat(cdir.path).st_mtime > min_age:
                    found.append(cdir)
            except OSError:
                pass
            continue
        except (OSError, ValueError):
            pid, start = 0, 0
        if not is_alive(pid, start):
            found.append(cdir)
    return found


def load(cdir: ContainerDir) -> Container | None:
    """The container in `cdir`, None while it has no record (being created, or half removed)."""
    base = cdir.text
    rec = config_at(f"{base}/container.json")
    if rec is None or "Id" not in rec or "Name" not in rec:
        return None
    return Container(
        id=rec["Id"],
        name=rec["Name"],
        image=rec.get("Config", {}).get("Image", ""),
        image_id=rec.get("Image", ""),
        created=rec.get("Created", ""),
        args=(rec.get("Path", ""), *rec.get("Args", [])),
        record=rec,
        state=_state_at(base),
        dir=cdir,
    )


def load_all(containers: str | os.PathLike[str]) -> list[Container]:
    """Every container of a store, newest first: one record and at most one state file read
    per container, /proc looked at only for those recorded as running."""
    found = [c for c in map(load, list_dirs(containers)) if c is not None]
    found.sort(key=lambda c: c.created, reverse=True)
    return found
