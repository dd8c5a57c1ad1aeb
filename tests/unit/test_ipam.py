"""Subnet choice and address allocation (pycore.network.ipam) and per-store network
settings (pycore.network.config)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from pycore.errors import Conflict, UsageError
from pycore.network import config, hosts, ipam
from pycore.settings import DEFAULT_ROOT

N = ipaddress.IPv4Network


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
