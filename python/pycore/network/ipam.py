"""Address management (pure): a subnet that collides with no host route or other network,
and the lowest free address in it. Callers hold the store lock around choose+record.

IPv4 addresses are ints here and subnets a small `Subnet` value: `ipaddress` costs every
bridged run milliseconds to import. The parsers accept the canonical forms (`10.88.0.0/16`,
`10.0.0.2`) themselves and hand anything else to `ipaddress` (loaded then), so what is
accepted, and every error, stays `ipaddress`'s."""

from __future__ import annotations

from pycore.errors import Conflict, UsageError

TYPE_CHECKING = False  # not typing's: importing typing costs every CLI start
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

_ALL = 0xFFFFFFFF


def dotted_quad(text: str) -> int | None:
    """A dotted quad as `ipaddress` reads it (four decimal octets, no leading zeros), or
    None for anything else."""
    parts = text.split(".")
    if len(parts) != 4:
        return None
    n = 0
    for p in parts:
        if not (p.isascii() and p.isdigit()) or len(p) > 3 or (len(p) > 1 and p[0] == "0"):
            return None
        v = int(p)
        if v > 255:
            return None
        n = (n << 8) | v
    return n


def ip_int(text: str) -> int:
    """`int(ipaddress.IPv4Address(text))`; ValueError (AddressValueError) as it raises."""
    n = dotted_quad(text)
    if n is None:
        import ipaddress

        return int(ipaddress.IPv4Address(text))
    return n


def ip_str(n: int) -> str:
    """`str(ipaddress.IPv4Address(n))` for 0 <= n < 2**32."""
    return f"{n >> 24}.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


class Subnet:
    """An IPv4 network: its first address (an int) and prefix length."""

    __slots__ = ("network", "prefixlen")

    network: int
    prefixlen: int

    def __init__(self, network: int, prefixlen: int) -> None:
        self.network = network
        self.prefixlen = prefixlen

    @property
    def size(self) -> int:
        return 1 << (32 - self.prefixlen)

    @property
    def broadcast(self) -> int:
        return self.network + self.size - 1

    def __contains__(self, address: int) -> bool:
        return self.network <= address <= self.broadcast

    def overlaps(self, other: Subnet) -> bool:
        return self.network <= other.broadcast and other.network <= self.broadcast

    def hosts(self) -> range:
        """What `IPv4Network.hosts()` yields: all of a /31 or /32, else all but the
        network and broadcast addresses."""
        if self.prefixlen >= 31:
            return range(self.network, self.broadcast + 1)
        return range(self.network + 1, self.broadcast)

    def __str__(self) -> str:
        return f"{ip_str(self.network)}/{self.prefixlen}"

    def __repr__(self) -> str:
        return f"Subnet({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Subnet):
            return NotImplemented
        return (self.network, self.prefixlen) == (other.network, other.prefixlen)

    def __hash__(self) -> int:
        return hash((self.network, self.prefixlen))


def subnet(text: str, *, strict: bool = True) -> Subnet:
    """`ipaddress.IPv4Network(text, strict=strict)` as a Subnet; its ValueError (an
    AddressValueError or NetmaskValueError) for what it rejects."""
    addr, sep, prefix = text.partition("/")
    n = dotted_quad(addr)
    if n is not None and "/" not in prefix:
        if not sep:
            return Subnet(n, 32)
        if prefix.isascii() and prefix.isdigit() and int(prefix) <= 32:
            plen = int(prefix)
            mask = (_ALL << (32 - plen)) & _ALL
            if n & mask == n or not strict:
                return Subnet(n & mask, plen)
    import ipaddress  # the rest: netmask forms, and the error messages

    net = ipaddress.IPv4Network(text, strict=strict)
    return Subnet(int(net.network_address), net.prefixlen)


def parse_subnet(text: str) -> Subnet:
    """A user's (or the pool setting's) subnet: IPv4, /30 or larger, host bits ignored."""
    try:
        net = subnet(text, strict=False)
    except ValueError:
        net = None
    if net is None:
        import ipaddress  # IPv6, or not an address at all: which of the two errors

        try:
            ipaddress.ip_network(text, strict=False)
        except ValueError as e:
            raise UsageError(f"invalid subnet {text!r}") from e
    if net is None or net.prefixlen > 30:
        raise UsageError(f"invalid subnet {text!r}: an IPv4 network of /30 or larger is needed")
    return net


def candidates(pool: Subnet, prefix: int, start: int = 0) -> Iterator[Subnet]:
    """The `/prefix` subnets of `pool`, beginning at the `start`-th (wrapping around)."""
    if prefix < pool.prefixlen:
        raise ValueError("new prefix must be longer")
    if prefix > 32:
        raise ValueError(f"prefix length diff {prefix - pool.prefixlen} is invalid for {pool}")
    count, size = 1 << (prefix - pool.prefixlen), 1 << (32 - prefix)
    for i in range(count):
        yield Subnet(pool.network + ((start + i) % count) * size, prefix)


def choose_subnet(options: Iterable[Subnet], taken: Iterable[Subnet]) -> Subnet:
    """The first candidate overlapping none of `taken` (host routes, other networks)."""
    used = [t for t in taken if t.prefixlen > 0]  # the default route overlaps everything
    for net in options:
        if not any(net.overlaps(t) for t in used):
            return net
    raise Conflict("could not find an available, non-overlapping IPv4 address pool")


def gateway(net: Subnet) -> str:
    return ip_str(net.network + 1)


def allocate(net: Subnet, used: Iterable[str], requested: str | None = None) -> str:
    """The lowest free host address after the gateway, or `requested` if it is free."""
    taken = {ip_int(u) for u in used}
    taken.add(net.network + 1)
    if requested:
        try:
            want = ip_int(requested)
        except ValueError as e:
            raise UsageError(f"invalid IP address {requested!r}") from e
        if want not in net or want in (net.network, net.broadcast):
            raise UsageError(f"no configured subnet contains IP address {requested}")
        if want in taken:
            raise Conflict(f"Address already in use: {requested}")
        return ip_str(want)
    for host in net.hosts():
        if host not in taken:
            return ip_str(host)
    raise Conflict(f"no available IPv4 addresses on network {net}")
