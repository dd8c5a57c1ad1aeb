"""Container networking through the real CLI: the default bridge and user networks, names and
aliases, `--link`, `-p` on 127.0.0.1 and on the bridge's gateway (a host address the test
made), UDP, port conflicts, concurrent address allocation, the sweep of what a dead container
left, and that nothing (link, rule, netns) of the store remains after each test.

Traffic goes only to 127.0.0.0/8 and to addresses of bridges and namespaces these tests made."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.helpers.containers import Run, busybox_root, cli_with_teardown, network_leftovers

pytestmark = [pytest.mark.root, pytest.mark.needs("ip", "nft", "unshare", "nsenter")]

WEB = "echo hi-$(hostname) > /tmp/index.html; exec httpd -f -p 80 -h /tmp"


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return busybox_root(tmp_path_factory, "net")


@pytest.fixture
def pc(root: Path) -> Iterator[Run]:
    # Removes containers through pycore, sweeps the store's networks, and fails on any link,
    # table, netns pin or process left behind.
    yield from cli_with_teardown(root)


def ok(r: subprocess.CompletedProcess[str]) -> str:
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def inspect(pc: Run, ref: str) -> dict:  # type: ignore[type-arg]
    return json.loads(ok(pc("inspect", ref)))[0]  # type: ignore[no-any-return]


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_get(url: str, tries: int = 50) -> str:
    for i in range(tries):
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                return resp.read().decode().strip()  # type: ignore[no-any-return]
        except OSError:
            if i == tries - 1:
                raise
            time.sleep(0.1)
    raise AssertionError("unreachable")


def test_user_network_resolves_names_and_aliases(pc: Run) -> None:
    ok(pc("network", "create", "appnet"))
    ok(pc("run", "-d", "--name", "web", "--network", "appnet", "--network-alias", "www",
          "busybox", "sh", "-c", WEB))  # fmt: skip
    script = "for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://$0/ && exit; sleep 0.2; done"
    for name in ("web", "www"):
        out = ok(pc("run", "--rm", "--network", "appnet", "busybox", "sh", "-c", script, name))
        assert out.startswith("hi-"), out
    net = json.loads(ok(pc("network", "inspect", "appnet")))[0]
    assert [c["Name"] for c in net["Containers"].values()] == ["web"]
    assert "appnet" in ok(pc("network", "ls"))
    # On the default bridge, names do not resolve.
    ok(pc("run", "-d", "--name", "plain", "busybox", "sh", "-c", WEB))
    r = pc("run", "--rm", "busybox", "wget", "-qO-", "-T", "2", "http://plain/")
    assert r.returncode != 0
    r = pc("network", "rm", "appnet")
    assert r.returncode == 125 and "active endpoints" in r.stderr
    ok(pc("rm", "-f", "web", "plain"))
    ok(pc("network", "rm", "appnet"))
    assert "appnet" not in ok(pc("network", "ls"))


def test_link_alias_and_legacy_variables(pc: Run) -> None:
    ok(pc("run", "-d", "--name", "srv", "--expose", "80", "busybox", "sh", "-c", WEB))
    ip = inspect(pc, "srv")["NetworkSettings"]["IPAddress"]
    script = (
        "for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://db/ && break; sleep 0.2; done;"
        "echo $DB_PORT_80_TCP_ADDR $DB_PORT $DB_NAME"
    )
    out = ok(pc("run", "--rm", "--name", "cli", "--link", "srv:db", "busybox", "sh", "-c", script))
    assert out.splitlines() == [
        "hi-" + inspect(pc, "srv")["Id"][:12],
        f"{ip} tcp://{ip}:80 /cli/db",
    ]
    r = pc("run", "--rm", "--link", "nosuch:x", "busybox", "true")
    assert r.returncode == 125 and "No such container" in r.stderr


def test_published_port_from_host_and_containers(pc: Run, root: Path) -> None:
    lo, anyp = free_port(), free_port()
    cid = ok(pc("run", "-d", "-p", f"127.0.0.1:{lo}:80", "-p", f"{anyp}:80",
                "busybox", "sh", "-c", WEB))  # fmt: skip
    want = f"hi-{cid[:12]}"
    assert http_get(f"http://127.0.0.1:{lo}/") == want
    assert http_get(f"http://127.0.0.1:{anyp}/") == want
    settings = inspect(pc, cid)["NetworkSettings"]
    gateway = settings["Gateway"]
    # The gateway is one of the host's own addresses (on the bridge this store made).
    assert http_get(f"http://{gateway}:{anyp}/") == want
    out = ok(pc("run", "--rm", "busybox", "wget", "-qO-", f"http://{gateway}:{anyp}/"))
    assert out == want
    assert ok(pc("port", cid)).splitlines() == [
        f"80/tcp -> 0.0.0.0:{anyp}",
        f"80/tcp -> 127.0.0.1:{lo}",
    ]
    assert settings["Ports"]["80/tcp"][0]["HostPort"] in (str(lo), str(anyp))
    ok(pc("stop", "-t", "1", cid))
    table = json.loads((root / "networks" / "config.json").read_text())["table"]
    rules = subprocess.run(["nft", "list", "table", "ip", table], capture_output=True, text=True)
    assert cid not in rules.stdout
    with pytest.raises(OSError):
        http_get(f"http://127.0.0.1:{lo}/", tries=1)
    # A start brings the rules back.
    ok(pc("start", cid))
    assert http_get(f"http://127.0.0.1:{lo}/") == want


def test_publish_all_and_udp(pc: Run) -> None:
    cid = ok(pc("run", "-d", "-P", "--expose", "80", "busybox", "sh", "-c", WEB))
    (line,) = ok(pc("port", cid, "80")).splitlines()
    assert http_get(f"http://127.0.0.1:{line.rpartition(':')[2]}/") == f"hi-{cid[:12]}"
    # UDP: the datagrams arrive in the container's namespace (its kernel counts them: no
    # busybox applet serves UDP), and its ICMP "port unreachable" comes back through the NAT.
    port = free_port(socket.SOCK_DGRAM)
    cid = ok(pc("run", "-d", "-p", f"127.0.0.1:{port}:5353/udp", "busybox", "sleep", "30"))
    sandbox = inspect(pc, cid)["NetworkSettings"]["SandboxKey"]
    before = udp_no_ports(sandbox)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("127.0.0.1", port))
        s.settimeout(2)
        s.send(b"ping")
        with pytest.raises(ConnectionRefusedError):
            s.recv(10)
    assert udp_no_ports(sandbox) == before + 1


def udp_no_ports(netns: str) -> int:
    snmp = subprocess.run(
        ["nsenter", f"--net={netns}", "cat", "/proc/net/snmp"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    header, values = [ln.split() for ln in snmp.splitlines() if ln.startswith("Udp:")][:2]
    return int(values[header.index("NoPorts")])


def test_port_conflict_is_clear_and_leaves_nothing(pc: Run, root: Path) -> None:
    port = free_port()
    ok(pc("run", "-d", "-p", f"{port}:80", "busybox", "sh", "-c", WEB))
    cfg = json.loads((root / "networks" / "config.json").read_text())
    before = sorted(n for n in os.listdir("/sys/class/net") if n.startswith(cfg["tag"]))
    r = pc("run", "-d", "-p", f"127.0.0.1:{port}:80", "busybox", "true")
    assert r.returncode == 125
    assert r.stderr.strip().endswith(f"Bind for 127.0.0.1:{port} failed: port is already allocated")
    assert len(r.stderr.strip().splitlines()) == 1
    after = sorted(n for n in os.listdir("/sys/class/net") if n.startswith(cfg["tag"]))
    assert after == before
    assert len(os.listdir(root / "networks" / "endpoints")) == 1
    listed = pc("ps", "-a", "-q").stdout.split()
    assert len(listed) == 2  # Docker keeps the container whose start failed, as Created
    # With --rm the container that could not start is removed too.
    r = pc("run", "--rm", "-p", f"127.0.0.1:{port}:80", "busybox", "true")
    assert r.returncode == 125
    assert r.stderr.strip().endswith("port is already allocated")
    assert pc("ps", "-a", "-q").stdout.split() == listed
    assert len(os.listdir(root / "networks" / "endpoints")) == 1


def test_concurrent_starts_get_distinct_addresses(pc: Run) -> None:
    with ThreadPoolExecutor(6) as pool:
        runs = list(pool.map(lambda _: pc("run", "-d", "busybox", "sleep", "30"), range(6)))
    ids = [ok(r) for r in runs]
    ips = [inspect(pc, c)["NetworkSettings"]["IPAddress"] for c in ids]
    assert len(set(ips)) == 6 and all(ips), ips


def test_dead_container_is_swept(pc: Run, root: Path) -> None:
    """A container killed behind pycore's back (and a CLI killed mid-setup, which leaves the
    same record) is torn down by the next command."""
    cid = ok(pc("run", "-d", "-p", f"127.0.0.1:{free_port()}:80", "busybox", "sleep", "30"))
    state = json.loads((root / "containers" / cid / "state.json").read_text())
    os.kill(state["monitor_pid"], 9)
    os.kill(state["pid"], 9)
    for _ in range(100):
        if "Exited" in pc("ps", "-a").stdout:
            break
        time.sleep(0.05)
    assert ok(pc("network", "cleanup")) == cid
    assert not (root / "networks" / "endpoints" / f"{cid}.json").exists()
    assert network_leftovers(root) == [], network_leftovers(root)


def test_container_mode_connect_disconnect(pc: Run) -> None:
    ok(pc("run", "-d", "--name", "ctr-a", "busybox", "sh", "-c", WEB))
    script = (
        "for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://127.0.0.1/ && exit; sleep 0.2; done"
    )
    assert ok(
        pc("run", "--rm", "--network", "container:ctr-a", "busybox", "sh", "-c", script)
    ).startswith("hi-")
    ok(pc("network", "create", "--internal", "--subnet", "10.254.77.0/24", "side"))
    ok(pc("network", "connect", "--alias", "aa", "side", "ctr-a"))
    sandbox = inspect(pc, "ctr-a")["NetworkSettings"]["SandboxKey"]
    links = subprocess.run(["nsenter", f"--net={sandbox}", "ip", "-br", "-4", "addr"],
                           capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert "10.254.77.2/24" in links
    assert inspect(pc, "ctr-a")["NetworkSettings"]["Networks"]["side"]["Aliases"] == ["aa"]
    ok(pc("network", "disconnect", "side", "ctr-a"))
    links = subprocess.run(["nsenter", f"--net={sandbox}", "ip", "-br", "-4", "addr"],
                           capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert "10.254.77.2" not in links
    assert pc("network", "rm", "nosuch").returncode == 125
    ok(pc("rm", "-f", "ctr-a"))
    assert ok(pc("network", "prune", "-f")).splitlines() == ["Deleted Networks:", "side"]
