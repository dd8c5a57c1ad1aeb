"""Address management (pure): a subnet that collides with no host route or other network,
and the lowest free address in it. Callers hold the store lock around choose+record."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator

from pycore.errors import Conflict, UsageError

Net = ipaddress.IPv4Network


def parse_subnet(text: str) -> Net:
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError as e:
        raise UsageError(f"invalid subnet {text!r}") from e
    if not isinstance(net, ipaddress.IPv4Network) or net.prefixlen > 30:
        raise UsageError(f"invalid subnet {text!r}: an IPv4 network of /30 or larger is needed")
    return net


def candidates(pool: Net, prefix: int, start: int = 0) -> Iterator[Net]:
    """The `/prefix` subnets of `pool`, beginning at the `start`-th (wrapping around)."""
    subs = list(pool.subnets(new_prefix=prefix))
    for i in range(len(subs)):
        yield subs[(start + i) % len(subs)]


def choose_subnet(options: Iterable[Net], taken: Iterable[Net]) -> Net:
    """The first candidate overlapping none of `taken` (host routes, other networks)."""
    used = [t for t in taken if t.prefixlen > 0]  # the default route overlaps everything
    for net in options:
        if not any(net.overlaps(t) for t in used):
            return net
    raise Conflict("could not find an available, non-overlapping IPv4 address pool")


def gateway(net: Net) -> ipaddress.IPv4Address:
    return net.network_address + 1


def allocate(net: Net, used: Iterable[str], requested: str | None = None) -> ipaddress.IPv4Address:
    """The lowest free host address after the gateway, or `requested` if it is free."""
    taken = {ipaddress.IPv4Address(u) for u in used} | {gateway(net)}
    if requested:
        try:
            want = ipaddress.IPv4Address(requested)
        except ValueError as e:
            raise UsageError(f"invalid IP address {requested!r}") from e
        if want not in net or want in (net.network_address, net.broadcast_address):
            raise UsageError(f"no configured subnet contains IP address {requested}")
        if want in taken:
            raise Conflict(f"Address already in use: {requested}")
        return want
    for host in net.hosts():
        if host not in taken:
            return host
    raise Conflict(f"no available IPv4 addresses on network {net}")
