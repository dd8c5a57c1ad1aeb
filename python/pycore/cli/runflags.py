"""`run`, `create` and `exec`: their options as tables, and the commands themselves without
click.

The click commands (`pycore.cli.containers`, `pycore.cli.container_ops`) are built from
`RUN_FLAGS` and `EXEC_FLAGS`. `pycore run` is the command users time, and `exec` the one
scripts repeat, so `fast_command` parses the common shapes of their command lines with the
same tables and runs them without importing click (which alone costs more than Python's own
start). Whatever it does not recognise -- `--help`, an unknown option, a value
click would refuse -- it leaves to click, so errors and help read the same either way.
"""

from __future__ import annotations

import os
import sys

from pycore.structs import struct

TYPE_CHECKING = False  # not typing's: importing typing costs every CLI start
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any, TypeVar

    from pycore.runtime.containers import ContainerService
    from pycore.runtime.options import RunOptions
    from pycore.settings import Settings
    from pycore.store.store import Store

    T = TypeVar("T")

BOOL, VALUE, MULTI, INT = "bool", "value", "multi", "int"


@struct(frozen=True, slots=True)
class Flag:
    """One option: its spellings, the keyword it fills, how it takes values, its help."""

    names: tuple[str, ...]
    dest: str
    kind: str
    help: str = ""
    default: Any = None  # None: the kind's own (False, None, ())


RUN_FLAGS: tuple[Flag, ...] = (
    Flag(("-e", "--env"), "env", MULTI, "Set an environment variable."),
    Flag(("--env-file",), "env_file", MULTI, "Read environment variables from a file."),
    Flag(("-w", "--workdir"), "workdir", VALUE, "Working directory inside the container."),
    Flag(("-u", "--user"), "user", VALUE, "Username or UID (format: <name|uid>[:<group|gid>])."),
    Flag(("--entrypoint",), "entrypoint", VALUE, "Overwrite the default ENTRYPOINT of the image."),
    Flag(("-h", "--hostname"), "hostname", VALUE, "Container host name."),
    Flag(("--name",), "name", VALUE, "Assign a name to the container."),
    Flag(("--rm",), "auto_remove", BOOL, "Remove the container on exit."),
    Flag(("--network", "--net"), "network", VALUE, "bridge, none, host, container:NAME, NETWORK."),
    Flag(("-p", "--publish"), "publish", MULTI, "[ip:][hostPort:]ctrPort[/proto]."),
    Flag(("-P", "--publish-all"), "publish_all", BOOL, "Publish every exposed port."),
    Flag(("--expose",), "expose", MULTI, "Expose a port or a range of ports."),
    Flag(("--link",), "link", MULTI, "Link another container: name[:alias]."),
    Flag(("--network-alias", "--net-alias"), "network_alias", MULTI, "Network-scoped alias."),
    Flag(("--ip",), "ip", VALUE, "IPv4 address on a user-defined network."),
    Flag(("--read-only",), "read_only", BOOL, "Mount the root filesystem read-only."),
    Flag(("--privileged",), "privileged", BOOL, "Give extended privileges."),
    Flag(("--cap-add",), "cap_add", MULTI, "Add Linux capabilities."),
    Flag(("--cap-drop",), "cap_drop", MULTI, "Drop Linux capabilities."),
    Flag(("--security-opt",), "security_opt", MULTI, "no-new-privileges[:true]."),
    Flag(("-l", "--label"), "label", MULTI, "Set metadata (key=value)."),
    Flag(("-v", "--volume"), "volume", MULTI, "Bind or volume: [SRC:]DST[:ro]."),
    Flag(("--mount",), "mount", MULTI, "type=bind|volume|tmpfs,source=,target=..."),
    Flag(("--tmpfs",), "tmpfs", MULTI, "Mount a tmpfs: PATH[:OPTIONS]."),
    Flag(("-m", "--memory"), "memory", VALUE, "Memory limit (e.g. 64m, 1g)."),
    Flag(("--memory-swap",), "memory_swap", VALUE, "Memory plus swap limit; -1: unlimited swap."),
    Flag(("--cpus",), "cpus", VALUE, "Number of CPUs (e.g. 0.5)."),
    Flag(("-c", "--cpu-shares"), "cpu_shares", INT, "CPU shares (relative weight)."),
    Flag(("--pids-limit",), "pids_limit", INT, "Maximum number of processes."),
    Flag(("--restart",), "restart", VALUE, "no, on-failure[:N], always or unless-stopped."),
    Flag(("-i", "--interactive"), "interactive", BOOL, "Keep STDIN open."),
    Flag(("-t", "--tty"), "tty", BOOL, "Allocate a pseudo-TTY."),
    Flag(("--init",), "init", BOOL, "Run a reaping init as pid 1."),
    Flag(("--pull",), "pull", VALUE, "missing (default), always or never."),
)
DETACH = Flag(("-d", "--detach"), "detach", BOOL, "Run in the background, print the id.")
EXEC_FLAGS: tuple[Flag, ...] = (
    Flag(("-d", "--detach"), "detach", BOOL, "Detached mode: run in the background."),
    Flag(("-i", "--interactive"), "interactive", BOOL, "Keep STDIN open."),
    Flag(("-t", "--tty"), "tty", BOOL, "Allocate a pseudo-TTY."),
    Flag(("-e", "--env"), "env", MULTI, "Set environment variables."),
    Flag(("-u", "--user"), "user", VALUE, "Username or UID (format: <name|uid>[:<group|gid>])."),
    Flag(("-w", "--workdir"), "workdir", VALUE, "Working directory inside the container."),
)


class NotFast(Exception):
    """The command line needs click: help, an error to word, a shape the table lacks."""


def _defaults(flags: Sequence[Flag]) -> dict[str, Any]:
    empty: dict[str, Any] = {BOOL: False, VALUE: None, MULTI: (), INT: None}
    return {f.dest: empty[f.kind] if f.default is None else f.default for f in flags}


def _store(values: dict[str, Any], f: Flag, value: str) -> None:
    if f.kind == MULTI:
        values[f.dest] = (*values[f.dest], value)
    elif f.kind == INT:
        try:
            values[f.dest] = int(value)
        except ValueError:
            raise NotFast from None
    else:
        values[f.dest] = value


def parse_refs(argv: Sequence[str], flags: Sequence[Flag]) -> dict[str, Any]:
    """Options, then one or more CONTAINERS (`rm -f a b`): `containers`. Raises NotFast for
    anything else, an option after a container included (click takes those)."""
    values = parse(argv, flags, "first")
    refs = (values.pop("first"), *values.pop("command"))
    if any(r.startswith("-") for r in refs):
        raise NotFast
    values["containers"] = refs
    return values


def parse(argv: Sequence[str], flags: Sequence[Flag], target: str = "image") -> dict[str, Any]:
    """Options (long with `=` or a separate value, short ones grouped as `-it` or with the
    value attached as `-eK=V`), then IMAGE (or, for `exec`, the `target` CONTAINER) and the
    command, as click parses `run` and `exec` (no options after the image or container).
    Raises NotFast for anything else."""
    by_name = {name: f for f in flags for name in f.names}
    values = _defaults(flags)
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            i += 1
            break
        if arg.startswith("--"):
            name, eq, value = arg.partition("=")
            f = by_name.get(name)
            if f is None or (f.kind == BOOL and eq):
                raise NotFast
            if f.kind == BOOL:
                values[f.dest] = True
            else:
                if not eq:
                    i += 1
                    if i == len(argv):
                        raise NotFast
                    value = argv[i]
                _store(values, f, value)
        elif arg.startswith("-") and arg != "-":
            for j in range(1, len(arg)):
                f = by_name.get("-" + arg[j])
                if f is None:
                    raise NotFast
                if f.kind == BOOL:
                    values[f.dest] = True
                    continue
                value = arg[j + 1 :]
                if not value:
                    i += 1
                    if i == len(argv):
                        raise NotFast
                    value = argv[i]
                _store(values, f, value)
                break
        else:
            break
        i += 1
    if i >= len(argv):
        raise NotFast  # no IMAGE: click words the error
    values[target] = argv[i]
    values["command"] = tuple(argv[i + 1 :])
    return values


def run_options(kw: dict[str, Any]) -> RunOptions:
    """The service's RunOptions from the parsed options (click's or the fast parser's)."""
    from pycore.errors import UsageError
    from pycore.network.ports import parse_expose, parse_publish
    from pycore.runtime import cgroups, restart
    from pycore.runtime.mounts import parse_all
    from pycore.runtime.options import RunOptions, env_entries, parse_network

    nnp = False
    for so in kw["security_opt"]:
        if so in ("no-new-privileges", "no-new-privileges:true", "no-new-privileges=true"):
            nnp = True
        elif so not in ("no-new-privileges:false", "no-new-privileges=false"):
            raise UsageError(f"unsupported --security-opt {so!r}")
    labels = dict(item.partition("=")[::2] for item in kw["label"])
    return RunOptions(
        command=tuple(kw["command"]),
        entrypoint=kw["entrypoint"],
        env=env_entries(kw["env"], kw["env_file"], os.environ),
        workdir=kw["workdir"],
        user=kw["user"],
        hostname=kw["hostname"],
        network=parse_network(kw["network"]),
        publish=tuple(b for spec in kw["publish"] for b in parse_publish(spec)),
        publish_all=kw["publish_all"],
        expose=tuple(p for spec in kw["expose"] for p in parse_expose(spec)),
        links=tuple(kw["link"]),
        network_aliases=tuple(kw["network_alias"]),
        ip=kw["ip"],
        read_only=kw["read_only"],
        privileged=kw["privileged"],
        cap_add=tuple(kw["cap_add"]),
        cap_drop=tuple(kw["cap_drop"]),
        no_new_privileges=nnp,
        labels=labels,
        mounts=parse_all(kw["volume"], kw["mount"], kw["tmpfs"]),
        resources=cgroups.parse(
            memory=kw["memory"],
            memory_swap=kw["memory_swap"],
            cpus=kw["cpus"],
            cpu_shares=kw["cpu_shares"],
            pids_limit=kw["pids_limit"],
        ),
        restart=restart.parse(kw["restart"]),
        tty=kw["tty"],
        interactive=kw["interactive"],
        init=kw["init"],
    )


def container_service(settings: Settings) -> ContainerService:
    """The container service of the store `settings` names (for the click-free commands)."""
    from pycore.runtime.containers import ContainerService
    from pycore.store.store import Store

    return ContainerService(Store.open(settings.root))


def _pull(settings: Settings, store: Store, image: str) -> None:
    """Pull for `run`/`create --pull`: progress on stderr when it is a terminal, else quiet."""
    from pycore.errors import PycoreError
    from pycore.registry import RegistryOptions, ensure_image
    from pycore.ui.transfer import TransferView

    tty = sys.stderr.isatty()
    view = TransferView("tty" if tty else "quiet", sys.stderr)
    try:
        ensure_image(store, image, "always", RegistryOptions.from_settings(settings), listener=view)
    except PycoreError as e:
        e.exit_code = 125  # `run` and `create` fail as Docker's do, whatever `pull` would exit
        raise
    finally:
        view.close()


def _with_image(settings: Settings, store: Store, kw: dict[str, Any], make: Callable[[], T]) -> T:
    """`make()` (a create or run) with the image there as `--pull` says, as Docker does:
    `missing` pulls an image that is not in the store (saying so on stderr first), `always`
    pulls first, `never` does not pull."""
    from pycore.errors import ImageNotFound, UsageError
    from pycore.reference import names_registry

    policy = kw["pull"] or "missing"
    if policy not in ("missing", "always", "never"):
        raise UsageError(f"invalid --pull {policy!r}: expected missing, always or never")
    if policy == "always":
        _pull(settings, store, kw["image"])
    try:
        return make()
    except ImageNotFound as e:
        if policy != "missing":
            raise
        if not names_registry(kw["image"]):
            raise ImageNotFound(f"{e}; no registry is named to pull it from") from e
        print(f"{e}", file=sys.stderr)
        _pull(settings, store, kw["image"])
    return make()


def run_command(settings: Settings, kw: dict[str, Any]) -> int:
    """`pycore run`: create and start; detached, print the id; attached, the exit code."""
    from pycore import native

    # The first cgroup migration after a quiet while waits out an RCU grace period (5-20 ms
    # here): set it off now, so it passes while the container is being created.
    native.prime_cgroups()
    svc = container_service(settings)
    opts = run_options(kw)
    c, code = _with_image(
        settings,
        svc.store,
        kw,
        lambda: svc.run(
            kw["image"],
            opts,
            name=kw["name"],
            auto_remove=kw["auto_remove"],
            detach=kw["detach"],
        ),
    )
    if kw["detach"]:
        print(c.id)
        return 0
    sys.stdout.flush()
    return int(code or 0)


def create_command(settings: Settings, kw: dict[str, Any]) -> int:
    """`pycore create`: print the new container's id."""
    svc = container_service(settings)
    opts = run_options(kw)
    c = _with_image(
        settings,
        svc.store,
        kw,
        lambda: svc.create(kw["image"], opts, name=kw["name"], auto_remove=kw["auto_remove"]),
    )
    print(c.id)
    return 0


def exec_command(settings: Settings, kw: dict[str, Any]) -> int:
    """`pycore exec`: the command's exit code (0 detached)."""
    from pycore.runtime.exec import ExecOptions, exec_in
    from pycore.runtime.options import env_entries

    detach = kw["detach"]
    opts = ExecOptions(
        command=kw["command"],
        env=env_entries(kw["env"], [], os.environ),
        user=kw["user"],
        workdir=kw["workdir"],
        interactive=kw["interactive"] and not detach,
        tty=kw["tty"] and not detach,
        detach=detach,
    )
    sys.stdout.flush()
    return exec_in(container_service(settings), kw["container"], opts).exit_code or 0


def _cleanup_command(root: str | None, debug: bool | None, args: Sequence[str]) -> int | None:
    from pycore.runtime.exitcmd import parse_cleanup
    from pycore.settings import Settings

    parsed = parse_cleanup(args)
    if parsed is None:
        return None
    cid, volumes = parsed
    container_service(Settings.from_env(root=root, debug=debug)).cleanup(cid, volumes=volumes)
    return 0


def fast_command(argv: Sequence[str]) -> int | None:
    """Run `[--root R] [--debug] [container] run|create|exec|start|stop|kill|wait|rm ...` and
    a monitor's `container cleanup` without click; None: not one of those shapes (click takes
    the command line as it is)."""
    from pycore.settings import Settings

    root: str | None = None
    debug: bool | None = None
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        arg = argv[i]
        if arg == "--debug":
            debug = True
        elif arg == "--root" and i + 1 < len(argv):
            i += 1
            root = argv[i]
        elif arg.startswith("--root=") and len(arg) > 7:
            root = arg[7:]
        else:
            return None
        i += 1
    rest = argv[i:]
    if rest[:2] == ["container", "cleanup"]:  # a monitor's exit command (runtime.exitcmd)
        return _cleanup_command(root, debug, rest[2:])
    if rest[:1] == ["container"]:
        rest = rest[1:]
    if rest and rest[0] in ("start", "stop", "kill", "wait", "rm"):
        from pycore.cli import refcmds

        try:
            kw = parse_refs(rest[1:], refcmds.FLAGS[rest[0]])
        except NotFast:
            return None
        return refcmds.COMMANDS[rest[0]](Settings.from_env(root=root, debug=debug), kw)
    if not rest or rest[0] not in ("run", "create", "exec"):
        return None
    try:
        if rest[0] == "exec":
            kw = parse(rest[1:], EXEC_FLAGS, "container")
            if not kw["command"]:
                return None  # click says that COMMAND is missing
        else:
            kw = parse(rest[1:], (*RUN_FLAGS, DETACH) if rest[0] == "run" else RUN_FLAGS)
    except NotFast:
        return None
    settings = Settings.from_env(root=root, debug=debug)
    if rest[0] == "exec":
        return exec_command(settings, kw)
    if rest[0] == "run":
        return run_command(settings, kw)
    return create_command(settings, kw)
