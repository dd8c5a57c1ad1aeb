"""The container service: create, start, run, list, inspect, stop, kill, wait, logs and remove,
with Docker's semantics. Names are reserved under the store lock; the container itself runs
under its own monitor (`pycore.native.start_container`), so no pycore process has to stay."""

from __future__ import annotations

import os
import time

from pycore import jsonio, native
from pycore.errors import (
    Conflict,
    ContainerError,
    ContainerNotFound,
    ImageNotFound,
    UsageError,
)
from pycore.runtime import cgroups, records, restart, seccomp, users
from pycore.runtime.options import RunOptions, check_name
from pycore.runtime.records import Container as Container  # re-exported: its old home
from pycore.runtime.records import ContainerDir
from pycore.runtime.spec import Rootfs, build_spec, capabilities
from pycore.store import atomic
from pycore.store.store import Store

TYPE_CHECKING = False  # not typing's: importing typing costs every CLI start
if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from typing import Any

_ADJECTIVES = (
    "brave",
    "calm",
    "eager",
    "fancy",
    "gentle",
    "happy",
    "jolly",
    "keen",
    "lucid",
    "merry",
    "nimble",
    "proud",
    "quiet",
    "rapid",
    "sharp",
    "tidy",
    "vivid",
    "witty",
    "zesty",
    "bold",
)
_NOUNS = (
    "turing",
    "hopper",
    "lovelace",
    "ritchie",
    "thompson",
    "torvalds",
    "knuth",
    "dijkstra",
    "hamilton",
    "liskov",
    "lamport",
    "shannon",
    "babbage",
    "perlman",
    "kay",
    "wirth",
    "backus",
    "cerf",
    "mccarthy",
    "allen",
)


# Linux's numbers: `signal` builds its enums at import, which `run` would pay for.
SIGKILL, SIGTERM = 9, 15


def _pick(words: Sequence[str]) -> str:
    """A random word (os.urandom: `secrets` would import hmac and OpenSSL on the run path)."""
    return words[int.from_bytes(os.urandom(4), "big") % len(words)]


def _familiar(image_ref: str) -> str:
    """`busybox:latest`, as Docker names an image it cannot find."""
    from pycore.errors import InvalidReference
    from pycore.reference import Reference

    try:
        return Reference.parse(image_ref).familiar
    except InvalidReference:
        return image_ref


def _now() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e9):09d}Z"


def _host_resolv_conf() -> str:
    try:
        with open("/etc/resolv.conf", encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        lines = []
    # Loopback resolvers of the host are unreachable from a container's own network.
    kept = [ln for ln in lines if not ln.startswith("nameserver 127.")]
    return "\n".join(kept) + "\n"


class ContainerService:
    """Containers of one store. Every method raises PycoreError subclasses only."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- lookup ------------------------------------------------------------------------

    def _load(self, cdir: ContainerDir) -> Container | None:
        return records.load(cdir)

    def list(self, *, all: bool = False) -> list[Container]:
        """Containers, newest first; without `all`, only running ones."""
        found = records.load_all(self.store.layout.containers)
        return found if all else [c for c in found if c.running]

    def get(self, ref: str) -> Container:
        """By full id, name, or unique id prefix (Docker's order)."""
        ref = ref[1:] if ref.startswith("/") else ref
        layout = self.store.layout
        if len(ref) == 64:
            c = self._load(ContainerDir(layout.container(ref)))
            if c:
                return c
        everything = self.list(all=True)
        for c in everything:
            if c.name == ref:
                return c
        matches = [c for c in everything if c.id.startswith(ref)] if ref else []
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise UsageError(f"multiple containers found with provided prefix: {ref}")
        raise ContainerNotFound(f"No such container: {ref}")

    # -- create ------------------------------------------------------------------------

    def create(
        self,
        image_ref: str,
        opts: RunOptions,
        *,
        name: str | None = None,
        auto_remove: bool = False,
    ) -> Container:
        """Make the container's directory, bundle and record; reserve its name."""
        from pycore.image import ImageService

        name = check_name(name) if name else None
        if auto_remove and opts.restart.name != "no":
            raise UsageError("Conflicting options: --restart and --rm")
        cgroups.sweep()
        orphans = records.sweep_unrecorded(self.store.layout.containers)
        if orphans:  # left by a create killed before its record, with its anonymous volumes
            from pycore.runtime import volumes

            volumes.discard_unrecorded(self.store, orphans)
        try:
            image = ImageService(self.store).get(image_ref)
        except ImageNotFound as e:
            raise ImageNotFound(f"Unable to find image '{_familiar(image_ref)}' locally") from e
        layout = self.store.layout
        layers = [layout.layer(d) for d in reversed(image.diff_ids)]
        for diff_id, layer in zip(reversed(image.diff_ids), layers, strict=True):
            if not os.path.isdir(layer):
                raise ContainerError(f"image {image_ref}: layer {diff_id.hex[:12]} is missing")
        if not layers:
            raise ContainerError(f"image {image_ref} has no layers")
        cid = os.urandom(32).hex()
        cdir = ContainerDir(layout.container(cid))
        try:
            return self._create_in(cdir, cid, image_ref, image, layers, opts, name, auto_remove)
        except BaseException:
            from pycore.runtime import volumes

            volumes.discard_unrecorded(self.store, [cdir])
            raise

    def _create_in(
        self,
        cdir: ContainerDir,
        cid: str,
        image_ref: str,
        image: Any,
        layers: Sequence[str],
        opts: RunOptions,
        name: str | None,
        auto_remove: bool,
    ) -> Container:
        from pycore.runtime.spec import resolve_process

        image_cfg = image.config.container_config
        os.makedirs(cdir.path, mode=0o700)
        records.mark_creating(cdir)
        for d in (cdir.rootfs, cdir.upper, cdir.work, cdir.bundle):
            os.mkdir(d, 0o755)
        proc = resolve_process(image_cfg, opts)
        user = users.resolve(
            proc.user,
            users.read_image_file(layers, "etc/passwd"),
            users.read_image_file(layers, "etc/group"),
        )
        hostname = opts.hostname or (os.uname().nodename if opts.network == "host" else cid[:12])
        etc = self._etc_files(cdir, hostname, opts)
        from pycore.runtime import volumes

        mounts = volumes.prepare(
            self.store,
            opts.mounts,
            image_cfg,
            layers=layers,
            upper=cdir.upper,
            work=cdir.work,
            owner=cid,
        )
        caps = capabilities(opts)
        spec = build_spec(
            image_cfg,
            opts,
            hostname=hostname,
            rootfs=Rootfs(cdir.rootfs, tuple(layers), cdir.upper, cdir.work),
            user=user,
            seccomp=None if opts.privileged else seccomp.oci_seccomp(caps),
            etc_files=etc,
            user_mounts=mounts.oci,
        )
        spec["linux"]["cgroupsPath"] = cgroups.cgroups_path(cid)
        spec["process"]["terminal"] = opts.tty
        if opts.init:
            spec["annotations"]["org.pycore.init"] = "true"
        if opts.resources is not None:
            spec["linux"]["resources"] = opts.resources.oci()
        if opts.restart.name != "no":
            spec["annotations"][restart.ANNOTATION] = str(opts.restart)
        atomic.write_json(f"{cdir.bundle}/config.json", spec, mode=0o600)
        record = {
            "Id": cid,
            "Created": _now(),
            "Path": proc.args[0],
            "Args": list(proc.args[1:]),
            "Image": str(image.id),
            "Mounts": list(mounts.record),
            "Config": {
                "Hostname": hostname,
                "User": proc.user,
                "Env": spec["process"]["env"],
                "Cmd": list(opts.command) or image_cfg.get("Cmd"),
                "Image": image_ref,
                "WorkingDir": proc.cwd,
                "Entrypoint": [opts.entrypoint]
                if opts.entrypoint
                else (None if opts.entrypoint == "" else image_cfg.get("Entrypoint")),
                "Labels": dict(opts.labels),
                "StopSignal": image_cfg.get("StopSignal"),
                "Tty": opts.tty,
                "OpenStdin": opts.interactive,
            },
            "HostConfig": {
                "AutoRemove": auto_remove,
                "NetworkMode": opts.network,
                "ReadonlyRootfs": opts.read_only,
                "Privileged": opts.privileged,
                "CapAdd": list(opts.cap_add),
                "CapDrop": list(opts.cap_drop),
                "RestartPolicy": opts.restart.host_config(),
                "Init": opts.init,
                **(opts.resources or cgroups.Resources()).host_config(),
            },
        }
        from pycore.network import wiring

        wiring.record_fields(self.store, record, opts, image_cfg)
        with self.store.locked():
            taken = {c.name: c.id for c in self.list(all=True)}
            if name is None:
                name = self._free_name(taken)
            elif name in taken:
                raise Conflict(
                    f'Conflict. The container name "/{name}" is already in use by container '
                    f'"{taken[name]}". You have to remove (or rename) that container to be '
                    "able to reuse that name."
                )
            record["Name"] = name
            records.write_config(cdir, record)
        container = self._load(cdir)
        assert container is not None
        return container

    @staticmethod
    def _free_name(taken: dict[str, str]) -> str:
        for _ in range(100):
            n = f"{_pick(_ADJECTIVES)}_{_pick(_NOUNS)}"
            if n not in taken:
                return n
        return f"{_pick(_ADJECTIVES)}_{os.urandom(4).hex()}"

    @staticmethod
    def _etc_files(cdir: ContainerDir, hostname: str, opts: RunOptions) -> dict[str, str]:
        hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
        if opts.network != "host":
            hosts += f"127.0.1.1\t{hostname}\n"
        files = {
            "/etc/hostname": (f"{cdir.path}/hostname", f"{hostname}\n"),
            "/etc/hosts": (f"{cdir.path}/hosts", hosts),
            "/etc/resolv.conf": (f"{cdir.path}/resolv.conf", _host_resolv_conf()),
        }
        for path, text in files.values():
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
        return {dest: path for dest, (path, _) in files.items()}

    # -- start and run -----------------------------------------------------------------

    def start(
        self, ref: str | Container, *, attach: bool = False, interactive: bool = False
    ) -> int | None:
        """Start a created or exited container; attached, return its exit code (and with
        `interactive`, the container reads our stdin)."""
        c = ref if isinstance(ref, Container) else self.get(ref)
        if c.running:
            return None
        if c.state.monitor_alive:  # the last run's monitor is still releasing its endpoint
            try:
                self.wait(c, timeout=60)
            except ContainerError:
                pass
        # Until the monitor records itself, the mark tells `rm` a start is under way.
        records.mark_starting(c.dir)
        try:
            os.unlink(c.dir.state)
        except FileNotFoundError:
            pass
        restart.clear_stopped(c.dir.state)
        from pycore.network import wiring
        from pycore.runtime import volumes

        drop: list[str] = []  # `--rm`: the anonymous volumes go with the container
        try:
            # In the try: a start that fails here (a port taken, say) undoes what it made,
            # and `--rm` removes the container, as Docker's does.
            wiring.before_start(self.store, c.id, c.record, c.dir.bundle)
            exit_command, exit_if = wiring.exit_command(self.store, c.id, c.record)
            if c.auto_remove and (drop := volumes.auto_removed(self.store, c.record)):
                exit_command, exit_if = volumes.rm_exit_command(self.store, c.id, drop)
            _, code = native.start_container(
                c.dir.bundle,
                c.dir.state,
                c.dir.log,
                attach=attach,
                remove=c.dir.path if c.auto_remove else None,
                trash=self.store.layout.tmp,
                interactive=attach and interactive,
                exit_command=exit_command,
                exit_if=exit_if,
            )
        except BaseException:
            records.unmark_starting(c.dir)
            wiring.after_exit(self.store, c.id, c.record)
            if c.auto_remove:
                self.store.discard(c.dir.path)
                volumes.VolumeService(self.store).remove_unused(drop)
            raise
        records.unmark_starting(c.dir)
        if code is not None:
            wiring.after_exit(self.store, c.id, c.record)
            if drop:
                volumes.remove_after_exit(self.store, c.dir, drop)
        return code

    def run(
        self,
        image_ref: str,
        opts: RunOptions,
        *,
        name: str | None = None,
        auto_remove: bool = False,
        detach: bool = False,
    ) -> tuple[Container, int | None]:
        """create + start; attached (not `detach`), returns the container's exit code."""
        c = self.create(image_ref, opts, name=name, auto_remove=auto_remove)
        return c, self.start(c, attach=not detach, interactive=opts.interactive)

    def cleanup(self, cid: str, *, volumes: Sequence[str] = ()) -> None:
        """`container cleanup`, the exit command of a container's monitor (it waits for
        this): release what the finished container held outside its directory, its network
        endpoint; and of `volumes`, those that are anonymous and unused (`--rm`'s).
        Idempotent; the container may be gone already (`--rm`, `rm`)."""
        from pycore.network import wiring

        wiring.release(self.store, cid)
        if volumes:
            from pycore.runtime.volumes import VolumeService

            VolumeService(self.store).remove_unused(volumes)

    # -- signals, waiting, removal -----------------------------------------------------

    def kill(self, ref: str, sig: int = SIGKILL) -> Container:
        c = self.get(ref)
        if not c.running:
            raise Conflict(f"Cannot kill container: {ref}: container {c.id} is not running")
        if sig in (SIGKILL, _signal_number(c.record.get("Config", {}).get("StopSignal"))):
            restart.mark_stopped(c.dir.state)  # no restart policy applies any more
        self._signal(c, sig)
        return c

    def _signal(self, c: Container, sig: int) -> None:
        raw = records.raw_state(c.dir.text) or {}
        pid, start = raw.get("pid"), raw.get("pid_start")
        if not isinstance(pid, int):
            return
        try:
            fd = os.pidfd_open(pid)
        except OSError:
            return
        try:
            # Checked after opening the pidfd: the fd now pins the process we verified.
            if records.start_time(pid) == start:
                import signal

                signal.pidfd_send_signal(fd, sig)
        except ProcessLookupError:
            pass
        finally:
            os.close(fd)

    def wait(self, ref: str | Container, *, timeout: float | None = None) -> int:
        """Block until the container has exited; its exit code."""
        c = ref if isinstance(ref, Container) else self.get(ref)
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 0.005
        while True:
            if not os.path.exists(c.dir.path):
                return c.state.exit_code or 0
            raw = records.raw_state(c.dir.text)
            state = records.state_of(raw)
            if state.status == "exited" and not state.monitor_alive:
                return state.exit_code if state.exit_code is not None else 0
            if state.status == "created":
                raise Conflict(f"container {c.short_id} is not running")
            now = time.monotonic()
            if deadline is not None and now > deadline:
                raise ContainerError(f"timed out waiting for container {c.short_id}")
            # The monitor goes last (it records the exit, runs its exit command, then exits):
            # woken by its exit, not by the next poll.
            records.await_monitor(raw, delay if deadline is None else min(delay, deadline - now))
            delay = min(delay * 2, 0.1)

    def stop(self, ref: str, *, timeout: float = 10.0, sig: int | None = None) -> Container:
        """STOPSIGNAL (default SIGTERM), then SIGKILL after `timeout` seconds."""
        c = self.get(ref)
        if not c.running:
            return c
        stop_signal = sig or _signal_number(c.record.get("Config", {}).get("StopSignal"))
        restart.mark_stopped(c.dir.state)
        self._signal(c, stop_signal)
        try:
            self.wait(c, timeout=timeout)
        except ContainerError:
            self._signal(c, SIGKILL)
            self.wait(c, timeout=30)
        from pycore.network import wiring

        wiring.after_exit(self.store, c.id, c.record)
        return c

    def remove(self, ref: str, *, force: bool = False, volumes: bool = False) -> Container:
        """`rm`; with `volumes` (`rm -v`) also the container's anonymous volumes."""
        c = self._settled(self.get(ref))
        if c.running:
            if not force:
                raise Conflict(
                    f"You cannot remove a running container {c.id}. Stop the container "
                    "before attempting removal or force remove"
                )
            restart.mark_stopped(c.dir.state)
            self._signal(c, SIGKILL)
            try:
                self.wait(c, timeout=30)
            except (ContainerError, Conflict):
                pass
        from pycore.network import wiring

        wiring.on_remove(self.store, c.id, c.record)
        # Before the directory goes: a remove killed after that could not find it again.
        cgroups.remove(c.id)
        self.store.discard(c.dir.path)
        if volumes:
            from pycore.runtime.volumes import VolumeService

            VolumeService(self.store).remove_anonymous(c.record)
        cgroups.sweep()
        return c

    def _settled(self, c: Container) -> Container:
        """`c` once no start is under way: a start's monitor records itself within moments,
        or (its CLI killed before it forked one) never (`records.START_GRACE`)."""
        deadline = time.monotonic() + records.START_GRACE + 1
        while (
            c.state.status == "created"
            and records.start_under_way(c.dir)
            and time.monotonic() < deadline
        ):
            time.sleep(0.02)
            c = records.load(c.dir) or c
        return c

    # -- output and inspection ---------------------------------------------------------

    def logs(self, ref: str) -> Iterator[tuple[str, str, str]]:
        """(stream, time, text) for every logged line, oldest first."""
        c = self.get(ref)
        try:
            f = open(c.dir.log, "rb")  # noqa: SIM115 - closed by the with below
        except FileNotFoundError:
            return
        with f:
            for line in f:
                try:
                    entry = jsonio.loads(line)
                    yield entry["stream"], entry["time"], entry["log"]
                except (ValueError, KeyError):
                    continue

    def inspect(self, ref: str) -> dict[str, Any]:
        """`docker container inspect` for one container (Docker's field names)."""
        c = self.get(ref)
        s = c.state
        out = dict(c.record)
        out["Name"] = "/" + c.name
        from pycore.runtime.ps import docker_status

        status = docker_status(c)  # Docker: a paused container is running and paused
        out["State"] = {
            "Status": status,
            "Running": s.status == "running",
            "Paused": status == "paused",
            "Restarting": s.restarting,
            "OOMKilled": s.oom_killed,
            "Dead": False,
            "Pid": s.pid if s.status == "running" else 0,
            "ExitCode": s.exit_code or 0,
            "Error": s.error or "",
            "StartedAt": s.started_at or "0001-01-01T00:00:00Z",
            "FinishedAt": s.finished_at or "0001-01-01T00:00:00Z",
        }
        out["RestartCount"] = s.restart_count
        out["LogPath"] = c.dir.log
        from pycore.network import wiring

        out["NetworkSettings"] = wiring.settings(self.store, c.id, c.record)
        return out


def _signal_number(name: Any) -> int:
    if not name:
        return SIGTERM
    return parse_signal(str(name))


def parse_signal(text: str) -> int:
    """`9`, `KILL`, `SIGKILL` → 9."""
    if text.isdigit():
        return int(text)
    import signal

    upper = text.upper()
    try:
        return int(signal.Signals[upper if upper.startswith("SIG") else f"SIG{upper}"])
    except KeyError as e:
        raise UsageError(f"invalid signal: {text}") from e
