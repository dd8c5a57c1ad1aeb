"""`native.plumb_veth` against the real kernel: on a bridge and a pinned network namespace
the test makes itself (unique names), the veth's master and up state, the address, up state
and default route inside; a second call while the first veth is still there (the stale
path); and failures, one line each, leaving no veth behind.

No traffic is sent: the test only reads the kernel's state back with `ip -j`."""

from __future__ import annotations

import json
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pycore import native
from pycore.errors import NetworkError

pytestmark = [pytest.mark.root, pytest.mark.needs("ip", "nsenter")]


@dataclass(frozen=True)
class Rig:
    bridge: str
    veth: str
    netns: Path
    subnet: str  # the first three octets, e.g. "10.251.7"


def ip_json(*args: str, netns: Path | None = None) -> list[dict[str, Any]]:
    argv = ["ip", "-j", *args]
    if netns is not None:
        argv = ["nsenter", f"--net={netns}", *argv]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    return json.loads(out or "[]")  # type: ignore[no-any-return]


def link_there(name: str) -> bool:
    return Path("/sys/class/net", name).exists()


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    tag = secrets.token_hex(3)
    r = Rig(f"pctb{tag}", f"pctv{tag}", tmp_path / "ns", f"10.251.{secrets.randbelow(250)}")
    subprocess.run(["ip", "link", "add", r.bridge, "type", "bridge"], check=True)
    try:
        subprocess.run(["ip", "link", "set", r.bridge, "up"], check=True)
        native.pin_netns(r.netns)
        yield r
    finally:
        for name in (r.veth, r.bridge):
            if link_there(name):
                subprocess.run(["ip", "link", "del", name], check=False)
        native.unpin_netns(r.netns)
    assert not link_there(r.veth) and not link_there(r.bridge)


def plumb(r: Rig, address: str | None = None, gateway: str | None = "") -> None:
    native.plumb_veth(
        r.bridge,
        r.veth,
        r.netns,
        "eth0",
        address or f"{r.subnet}.2/24",
        f"{r.subnet}.1" if gateway == "" else gateway,
    )


def assert_plumbed(r: Rig) -> int:
    """Checks what plumb() asked for; the host end's ifindex."""
    (host,) = ip_json("link", "show", "dev", r.veth)
    assert host["master"] == r.bridge
    assert "UP" in host["flags"]
    (inside,) = ip_json("addr", "show", "dev", "eth0", netns=r.netns)
    assert "UP" in inside["flags"]
    assert inside["operstate"] == "UP"  # the host end is up too: carrier
    v4 = [a for a in inside["addr_info"] if a["family"] == "inet"]
    assert [(a["local"], a["prefixlen"]) for a in v4] == [(f"{r.subnet}.2", 24)]
    (default,) = ip_json("route", "show", "default", netns=r.netns)
    assert (default["gateway"], default["dev"]) == (f"{r.subnet}.1", "eth0")
    (lo,) = ip_json("link", "show", "dev", "lo", netns=r.netns)
    assert "UP" in lo["flags"]  # pin_netns brought it up
    assert host["ifindex"] == inside["link_index"]  # the pair's two ends
    return int(host["ifindex"])


def test_plumbs_the_veth_address_up_state_and_default_route(rig: Rig) -> None:
    plumb(rig)
    assert_plumbed(rig)


def test_a_stale_veth_of_the_same_name_is_replaced(rig: Rig) -> None:
    plumb(rig)
    first = assert_plumbed(rig)
    plumb(rig)  # the first veth still exists: deleted, made again
    assert assert_plumbed(rig) != first
    assert len(ip_json("link", "show", "master", rig.bridge)) == 1


def test_no_default_route_without_a_gateway(rig: Rig) -> None:
    plumb(rig, gateway=None)
    assert ip_json("route", "show", "default", netns=rig.netns) == []
    (inside,) = ip_json("addr", "show", "dev", "eth0", netns=rig.netns)
    assert "UP" in inside["flags"]


def test_a_missing_bridge_is_one_line_naming_it_and_leaves_no_veth(rig: Rig) -> None:
    missing = f"{rig.bridge}x"
    with pytest.raises(NetworkError) as e:
        native.plumb_veth(missing, rig.veth, rig.netns, "eth0", f"{rig.subnet}.2/24")
    assert str(e.value) == f"find bridge {missing}: No such device"
    assert not link_there(rig.veth)


def test_a_failure_inside_the_netns_removes_the_veth(rig: Rig) -> None:
    # A /32 leaves the gateway off-link: the route is refused after the veth was made.
    with pytest.raises(NetworkError) as e:
        plumb(rig, address=f"{rig.subnet}.2/32")
    assert str(e.value) == "default route add eth0: Network is unreachable"
    assert not link_there(rig.veth)
    assert ip_json("link", "show", "dev", "lo", netns=rig.netns)[0]["ifname"] == "lo"
    assert [link["ifname"] for link in ip_json("link", "show", netns=rig.netns)] == ["lo"]


def test_an_existing_peer_name_is_refused_with_the_kernels_words(rig: Rig) -> None:
    plumb(rig)
    other = f"{rig.veth[:-1]}z"
    try:
        with pytest.raises(NetworkError) as e:
            native.plumb_veth(rig.bridge, other, rig.netns, "eth0", f"{rig.subnet}.3/24")
        assert str(e.value) == f"veth add {other}: File exists"
        assert not link_there(other)
        assert_plumbed(rig)  # the first endpoint untouched
    finally:
        if link_there(other):
            subprocess.run(["ip", "link", "del", other], check=False)


def test_a_malformed_address_is_a_network_error(rig: Rig) -> None:
    with pytest.raises(NetworkError, match="not IPv4 with a prefix"):
        native.plumb_veth(rig.bridge, rig.veth, rig.netns, "eth0", "10.1.2.3")
    with pytest.raises(NetworkError, match="invalid interface name"):
        native.plumb_veth(rig.bridge, rig.veth, rig.netns, "eth0 x", f"{rig.subnet}.2/24")
    assert not link_there(rig.veth)
