"""The host side: every `ip`, `nft`, `unshare`, `nsenter`, `umount` call pycore makes, as
explicit argv lists (never a shell), and the few /proc/sys switches networking needs."""

from __future__ import annotations

import os

from pycore import jsonio
from pycore.errors import NetworkError

TYPE_CHECKING = False  # not typing's: importing typing costs every CLI start
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from typing import Any

    StrPath = str | os.PathLike[str]


def run(argv: Sequence[str], *, stdin: str | None = None, check: bool = True) -> str:
    """Run one tool; its stdout. A failure is a NetworkError naming the tool and its words."""
    import subprocess  # here: a container start on an existing bridge runs no tool

    try:
        p = subprocess.run(
            list(argv), input=stdin, capture_output=True, text=True, check=False, timeout=30
        )
    except FileNotFoundError as e:
        raise NetworkError(f"{argv[0]} is not installed (needed for container networking)") from e
    if p.returncode != 0 and check:
        why = (p.stderr or p.stdout).strip().splitlines()
        raise NetworkError(f"{' '.join(argv[:3])}: {why[-1] if why else 'failed'}")
    return p.stdout


def link_exists(name: str) -> bool:
    return os.path.exists(f"/sys/class/net/{name}")


def routes() -> list[str]:
    """Destinations of the host's IPv4 routes (every table), e.g. `10.0.0.0/24`."""
    out = jsonio.loads(run(["ip", "-j", "-4", "route", "show", "table", "all"]) or "[]")
    dsts = []
    for r in out:
        dst = r.get("dst", "")
        if dst and dst != "default" and r.get("type", "unicast") in ("unicast", "local"):
            dsts.append(dst if "/" in dst else f"{dst}/32")
    return dsts


def route_localnet(name: str) -> None:
    """On the bridge `name`, just made."""
    # The kernel drops 127.0.0.0/8 sources on a non-loopback device unless told otherwise;
    # published ports DNAT host loopback traffic onto the bridge (as Docker does).
    _sysctl(f"net/ipv4/conf/{name}/route_localnet", "1")


def enable_forwarding() -> None:
    """Containers reach past their bridge (and hairpin to published ports) only with IPv4
    forwarding on. Docker turns it on too; pycore never turns it off again."""
    _sysctl("net/ipv4/ip_forward", "1")


def _sysctl(key: str, value: str) -> None:
    path = f"/proc/sys/{key}"
    try:
        with open(path) as f:
            current = f.read()
        if current.strip() != value:
            with open(path, "w") as f:
                f.write(value)
    except OSError as e:
        raise NetworkError(f"sysctl {key.replace('/', '.')}={value}: {e.strerror}") from e


def delete_link(name: str) -> None:
    delete_links([name])


def _mountinfo() -> str:
    with open("/proc/self/mountinfo") as f:
        return f.read()


def prepare_netns_dir(path: StrPath) -> None:
    """The directory of netns files, bind-mounted onto itself and private (as `ip netns`
    does for /run/netns), so the nsfs mounts in it do not propagate."""
    path = os.fspath(path)
    os.makedirs(path, exist_ok=True)
    if f" {path} " not in _mountinfo():
        # One mount(8): it applies the propagation change after the bind (util-linux 2.23+).
        run(["mount", "--make-private", "--bind", path, path])


def create_netns(path: StrPath) -> None:
    """A new network namespace, loopback up, pinned by a bind mount on `path` (what
    `unshare --net=FILE` does, without its two processes)."""
    from pycore import native

    native.pin_netns(path)


def plumb_veth(
    bridge: str, veth: str, netns: StrPath, iface: str, address: str, gateway: str | None
) -> None:
    """The veth pair on `bridge` with its peer `iface` in `netns`, `address` (CIDR) on it,
    up, and the default route via `gateway` if given: a few netlink messages, no process.
    A stale host link named `veth` is replaced; on failure nothing half-made is left."""
    from pycore import native

    native.plumb_veth(bridge, veth, netns, iface, address, gateway)


def remove_netns(path: StrPath) -> None:
    from pycore import native

    try:
        native.unpin_netns(path)
    except NetworkError:
        pass


def is_mounted(path: StrPath) -> bool:
    try:
        text = _mountinfo()
    except OSError:
        return False
    return f" {os.fspath(path)} " in text


def ip_batch(commands: Sequence[str]) -> None:
    """`ip -batch -` on the host (inside a namespace, `plumb_veth` speaks netlink)."""
    run(["ip", "-batch", "-"], stdin="".join(c + "\n" for c in commands))


def delete_links(names: Iterable[str]) -> None:
    """Delete those of the links that exist, in one `ip -force -batch` (it goes on past a
    link that vanished in between)."""
    there = [n for n in dict.fromkeys(names) if link_exists(n)]
    if there:
        batch = "".join(f"link del {n}\n" for n in there)
        run(["ip", "-force", "-batch", "-"], stdin=batch, check=False)


def nft(script: str) -> None:
    run(["nft", "-f", "-"], stdin=script)


def nft_succeeds(script: str) -> bool:
    """One `nft -f -` transaction; whether it was applied (all of it, or nothing)."""
    import subprocess

    try:
        p = subprocess.run(
            ["nft", "-f", "-"], input=script, capture_output=True, text=True, timeout=30
        )
    except FileNotFoundError as e:
        raise NetworkError("nft is not installed (needed for container networking)") from e
    return p.returncode == 0


def nft_json(*args: str) -> list[dict[str, Any]]:
    out = run(["nft", "-j", *args], check=False)
    try:
        items = jsonio.loads(out).get("nftables", []) if out.strip() else []
    except ValueError:
        return []
    return [i for i in items if isinstance(i, dict)]


def listening(proto: str, host_ip: str, port: int) -> bool:
    """Something on the host already holds this port (our DNAT would shadow it)."""
    import _socket  # socket.py's C core: socket.py builds its enums at import (~3 ms of `-p`)

    kind = _socket.SOCK_STREAM if proto == "tcp" else _socket.SOCK_DGRAM
    s = _socket.socket(_socket.AF_INET, kind)
    try:
        s.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 1)
        try:
            s.bind((host_ip or "0.0.0.0", port))
        except OSError:
            return True
    finally:
        s.close()
    return False


def free_port(proto: str) -> int:
    """A port the kernel considers free right now (from the ephemeral range)."""
    import socket

    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("0.0.0.0", 0))
        port: int = s.getsockname()[1]
        return port


def pid_alive(pid: int, start: int | None) -> bool:
    from pycore.runtime.records import start_time

    return pid > 0 and start_time(pid) == start if start is not None else False


def self_identity() -> tuple[int, int | None]:
    from pycore.runtime.records import start_time

    pid = os.getpid()
    return pid, start_time(pid)
