"""`-p`, `--expose` and `-P` parsed into frozen values (pure: no I/O)."""

from __future__ import annotations

from pycore.errors import UsageError
from pycore.network.ipam import dotted_quad
from pycore.structs import struct

TYPE_CHECKING = False  # not typing's: importing typing costs every CLI start
if TYPE_CHECKING:
    from collections.abc import Iterable

PROTOCOLS = ("tcp", "udp")


@struct(frozen=True, slots=True, order=True)
class PortBinding:
    """One published port: host `host_ip:host_port` (host_ip "" = every host address,
    host_port 0 = any free port) forwarded to `container_port/proto`."""

    container_port: int
    proto: str = "tcp"
    host_ip: str = ""
    host_port: int = 0

    @property
    def key(self) -> str:
        """Docker's `80/tcp`."""
        return f"{self.container_port}/{self.proto}"


def _port(text: str, what: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise UsageError(f"invalid {what}: {text!r}")
    return int(text)


def _range(text: str, what: str) -> list[int]:
    lo, sep, hi = text.partition("-")
    if not sep:
        return [_port(lo, what)]
    a, b = _port(lo, what), _port(hi, what)
    if b < a:
        raise UsageError(f"invalid {what} range: {text!r}")
    return list(range(a, b + 1))


def _split_proto(text: str) -> tuple[str, str]:
    body, sep, proto = text.rpartition("/")
    if not sep:
        return text, "tcp"
    proto = proto.lower()
    if proto not in PROTOCOLS:
        raise UsageError(f"invalid protocol {proto!r} in {text!r}: use tcp or udp")
    return body, proto


def parse_publish(spec: str) -> list[PortBinding]:
    """`[ip:][hostPort:]containerPort[/proto]`, ports or equal-length ranges."""
    body, proto = _split_proto(spec)
    parts = body.split(":")
    if len(parts) > 3 or not parts[-1]:
        raise UsageError(f"invalid publish spec {spec!r}: use [ip:][hostPort:]containerPort")
    host_ip = ""
    if len(parts) == 3:
        host_ip = parts[0]
        if dotted_quad(host_ip) is None:  # not an IPv4 address as written canonically
            import ipaddress  # here: only for the error (ipaddress's own reading of it)

            try:
                addr = ipaddress.ip_address(host_ip)
            except ValueError as e:
                raise UsageError(f"invalid IP address in publish spec {spec!r}") from e
            if addr.version != 4:
                raise UsageError(f"IPv6 host addresses are not supported: {spec!r}")
            raise UsageError(f"invalid IP address in publish spec {spec!r}")
        if host_ip == "0.0.0.0":
            host_ip = ""
    container = _range(parts[-1], "container port")
    host_text = parts[-2] if len(parts) >= 2 else ""
    hosts = _range(host_text, "host port") if host_text else [0] * len(container)
    if len(hosts) != len(container):
        raise UsageError(f"invalid publish spec {spec!r}: the port ranges differ in length")
    return [PortBinding(c, proto, host_ip, h) for c, h in zip(container, hosts, strict=True)]


def parse_expose(spec: str) -> list[str]:
    """`80`, `80/udp`, `8000-8010` → ["80/tcp", ...] (Docker's ExposedPorts keys)."""
    body, proto = _split_proto(spec)
    return [f"{p}/{proto}" for p in _range(body, "port")]


def publish_all(exposed: Iterable[str], explicit: Iterable[PortBinding]) -> list[PortBinding]:
    """`-P`: every exposed port not already published, to any free host port."""
    taken = {b.key for b in explicit}
    out = []
    for key in exposed:
        port, _, proto = key.partition("/")
        b = PortBinding(_port(port, "exposed port"), proto or "tcp")
        if b.key not in taken:
            taken.add(b.key)
            out.append(b)
    return out


def overlaps(a: PortBinding, b: PortBinding) -> bool:
    """Both want the same host port on a common address."""
    return (
        a.proto == b.proto
        and a.host_port == b.host_port
        and (not a.host_ip or not b.host_ip or a.host_ip == b.host_ip)
    )


def describe(b: PortBinding) -> str:
    """`0.0.0.0:8080` as Docker's messages and `port` print it."""
    return f"{b.host_ip or '0.0.0.0'}:{b.host_port}"
