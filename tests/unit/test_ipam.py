"""Subnet choice and address allocation (pycore.network.ipam) and per-store network
settings (pycore.network.config)."""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Callable
from pathlib import Path

import pytest

from pycore.errors import Conflict, UsageError
from pycore.network import config, hosts, ipam
from pycore.settings import DEFAULT_ROOT
from tests.helpers.imports import HEAVY, heavy_loaded

N = ipam.subnet  # what the records and the pool setting are parsed with


def test_choose_subnet_skips_host_routes_and_other_networks() -> None:
    pool = N("10.88.0.0/13")
    taken = [N("0.0.0.0/0"), N("10.88.0.0/16"), N("10.89.5.0/24")]
    assert ipam.choose_subnet(ipam.candidates(pool, 16), taken) == N("10.90.0.0/16")
    assert ipam.choose_subnet(ipam.candidates(pool, 16, start=7), taken) == N("10.95.0.0/16")
    with pytest.raises(Conflict):
        ipam.choose_subnet(ipam.candidates(N("10.0.0.0/24"), 24), [N("10.0.0.0/8")])


def test_allocate_lowest_free_and_requested() -> None:
    net = N("10.1.2.0/29")
    assert str(ipam.gateway(net)) == "10.1.2.1"
    assert str(ipam.allocate(net, [])) == "10.1.2.2"
    assert str(ipam.allocate(net, ["10.1.2.2", "10.1.2.4"])) == "10.1.2.3"
    assert str(ipam.allocate(net, [], "10.1.2.6")) == "10.1.2.6"
    with pytest.raises(Conflict, match="in use"):
        ipam.allocate(net, ["10.1.2.6"], "10.1.2.6")
    for bad in ("10.1.3.2", "10.1.2.7", "nope"):
        with pytest.raises(UsageError):
            ipam.allocate(net, [], bad)
    with pytest.raises(Conflict, match="no available"):
        ipam.allocate(net, [f"10.1.2.{i}" for i in range(2, 7)])


def test_parse_subnet() -> None:
    assert ipam.parse_subnet("10.5.0.9/16") == N("10.5.0.0/16")
    for bad in ("x", "fd00::/64", "10.0.0.0/31"):
        with pytest.raises(UsageError):
            ipam.parse_subnet(bad)


def test_store_roots_get_their_own_names(tmp_path: Path) -> None:
    default = config.default_config(DEFAULT_ROOT)
    assert (default.bridge, default.table, default.pool) == ("pycore0", "pycore", "10.88.0.0/13")
    a = config.default_config(tmp_path / "a")
    b = config.default_config(tmp_path / "b")
    assert len({a.bridge, b.bridge, default.bridge}) == 3
    assert a.table != b.table and a.run_dir != b.run_dir
    for cfg in (a, default):
        assert len(cfg.veth("f" * 64, 3)) <= 15 and len(cfg.network_bridge("e" * 64)) <= 15
        assert cfg.veth("f" * 64, 0) != cfg.veth("f" * 64, 1)
    loaded = config.load(tmp_path / "a")
    assert loaded == a and (tmp_path / "a/networks/config.json").is_file()


def test_hosts_render() -> None:
    text = hosts.render(
        "box", "10.0.0.2", [("10.0.0.3", ["web", "www", "web"]), ("10.0.0.3", ["web"])]
    )
    assert text.splitlines()[2:] == ["10.0.0.2\tbox", "10.0.0.3\tweb www"]
    assert "127.0.1.1\tbox" in hosts.render("box", None, [])


def _samples() -> list[str]:
    """Addresses and subnets in canonical and odd spellings, valid and not."""
    rnd = random.Random(7)
    out = [
        "0.0.0.0",
        "255.255.255.255",
        "10.88.0.0/13",
        "10.0.0.0/255.255.0.0",
        "1.2.3.4/0.0.0.255",
    ]
    out += [
        "",
        "/",
        "1.2.3",
        "1.2.3.4.5",
        "01.2.3.4",
        "1.2.3.256",
        "1.2.3.4/33",
        "1.2.3.4/",
        "a.b.c.d",
    ]
    out += [
        "1.2.3.4/8/8",
        "1.2.3.4 /8",
        " 1.2.3.4",
        "1.2.3.4/+8",
        "1.2.3.4/-1",
        "1.2.3.4/08",
        "1.2.3.4/008",
    ]
    out += [
        "\u0661.2.3.4",
        "1.2.3.4/\u0661",
        "1.2.3.0004",
        "fd00::/64",
        "::1",
        "1.2.3.4/32",
        "1.2.3.4/31",
    ]
    for _ in range(3000):
        octets = [
            str(rnd.choice([0, 1, 9, 10, 99, 100, 255, 256, rnd.randrange(300)])) for _ in range(4)
        ]
        if rnd.random() < 0.05:
            octets[rnd.randrange(4)] = "0" + octets[0]
        text = ".".join(octets)
        if rnd.random() < 0.7:
            text += f"/{rnd.randrange(-1, 35)}"
        out.append(text)
    return out


def _outcome(f: Callable[..., object], *args: object, **kw: object) -> object:
    """f's result, or its ValueError's kind and words."""
    try:
        return f(*args, **kw)
    except ValueError as e:
        return type(e).__name__, str(e)


def test_parsers_agree_with_ipaddress() -> None:
    for text in _samples():
        for strict in (True, False):
            want = _outcome(ipaddress.IPv4Network, text, strict=strict)
            if isinstance(want, ipaddress.IPv4Network):
                want = (int(want.network_address), want.prefixlen)
            got = _outcome(ipam.subnet, text, strict=strict)
            if isinstance(got, ipam.Subnet):
                assert str(got) == str(ipaddress.IPv4Network(text, strict=strict))
                got = (got.network, got.prefixlen)
            assert got == want, text
        want_ip = _outcome(lambda t: int(ipaddress.IPv4Address(t)), text)
        assert _outcome(ipam.ip_int, text) == want_ip, text
        if isinstance(want_ip, int):
            assert ipam.ip_str(want_ip) == str(ipaddress.IPv4Address(text))


def test_subnet_arithmetic_agrees_with_ipaddress() -> None:
    rnd = random.Random(11)
    nets = [
        ipaddress.IPv4Network((rnd.getrandbits(32), rnd.randrange(33)), strict=False)
        for _ in range(400)
    ]
    nets += [
        ipaddress.IPv4Network(t)
        for t in ("0.0.0.0/0", "10.0.0.0/31", "10.0.0.7/32", "255.255.255.252/30")
    ]
    ours = [ipam.subnet(str(n)) for n in nets]
    for n, s in zip(nets, ours, strict=True):
        assert (s.broadcast, s.size) == (int(n.broadcast_address), n.num_addresses)
        if n.num_addresses <= 1024:
            assert list(s.hosts()) == [int(h) for h in n.hosts()]
        else:
            assert s.hosts()[0] == int(next(iter(n.hosts())))
        probe = rnd.getrandbits(32)
        assert (probe in s) == (ipaddress.IPv4Address(probe) in n)
        if n.prefixlen < 30:
            assert ipam.gateway(s) == str(n.network_address + 1)
        for m, t in zip(nets[:40], ours[:40], strict=True):
            assert s.overlaps(t) == n.overlaps(m)
        for extra in (0, 1, 3):
            if n.prefixlen + extra <= 32 and extra <= 3:
                want = [str(x) for x in n.subnets(prefixlen_diff=extra)]
                assert [str(x) for x in ipam.candidates(s, n.prefixlen + extra)] == want
        assert hash(s) == hash(ipam.subnet(str(n))) and s == ipam.subnet(str(n))


def test_candidates_wrap_and_reject_like_ipaddress() -> None:
    pool = ipam.subnet("10.200.0.0/13")
    subs = list(ipaddress.IPv4Network("10.200.0.0/13").subnets(new_prefix=24))
    got = list(ipam.candidates(pool, 24, start=2040))
    assert [str(x) for x in got] == [str(x) for x in subs[2040:] + subs[:2040]]
    for bad in (12, 33):
        with pytest.raises(ValueError):
            list(ipam.candidates(pool, bad))
        with pytest.raises(ValueError):
            list(ipaddress.IPv4Network("10.200.0.0/13").subnets(new_prefix=bad))


def test_parse_subnet_messages() -> None:
    with pytest.raises(UsageError, match=r"^invalid subnet 'x'$"):
        ipam.parse_subnet("x")
    for text in ("fd00::/64", "10.0.0.0/31"):
        with pytest.raises(UsageError, match="/30 or larger"):
            ipam.parse_subnet(text)
    assert str(ipam.parse_subnet("10.0.0.0/255.255.0.0")) == "10.0.0.0/16"


def test_ipam_loads_no_ipaddress() -> None:
    code = (
        "from pycore.network import ipam\n"
        "n = ipam.subnet('10.1.0.0/16'); ipam.allocate(n, ['10.1.0.2'], '10.1.0.9')\n"
        "ipam.choose_subnet(ipam.candidates(ipam.parse_subnet('10.0.0.0/13'), 16), [n])\n"
    )
    assert "ipaddress" in HEAVY and heavy_loaded(code) == []
