"""A container's network endpoint is released when it is finished for good, by its monitor's
exit command (`container cleanup`), with no further pycore command: after it exits, after
`--rm`, and only once a restart policy gives up (the published port works across restarts).

Traffic goes only to 127.0.0.1."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers.containers import network_leftovers
from tests.integration.test_network import (  # noqa: F401  (fixtures)
    Run,
    free_port,
    http_get,
    ok,
    pc,
    root,
)

pytestmark = [pytest.mark.root, pytest.mark.needs("ip", "nft", "nsenter")]


def endpoint(store: Path, cid: str) -> dict:  # type: ignore[type-arg]
    path = store / "networks" / "endpoints" / f"{cid}.json"
    return json.loads(path.read_text())  # type: ignore[no-any-return]


def rules(store: Path) -> str:
    table = json.loads((store / "networks" / "config.json").read_text())["table"]
    r = subprocess.run(["nft", "list", "table", "ip", table], capture_output=True, text=True)
    return r.stdout


def gone(store: Path, cid: str, veth: str, netns: str) -> list[str]:
    """What of the container's endpoint is still there."""
    left = []
    if (store / "networks" / "endpoints" / f"{cid}.json").exists():
        left.append("record")
    if os.path.exists(f"/sys/class/net/{veth}"):
        left.append(f"veth {veth}")
    if cid in rules(store):
        left.append("DNAT rule")
    if os.path.exists(netns):
        left.append(f"netns {netns}")
    return left


def endpoints_left(store: Path, port: int) -> list[str]:
    """Any container's endpoint in the store: records, veths, netns files, DNAT to `port`
    (the default bridge, its table and netns directory stay, as docker0 does)."""
    cfg = json.loads((store / "networks" / "config.json").read_text())
    left = [f"record {n}" for n in os.listdir(store / "networks" / "endpoints")]
    left += [
        f"link {n}"
        for n in os.listdir("/sys/class/net")
        if n.startswith(cfg["tag"]) and n != cfg["bridge"]
    ]
    netns = Path(cfg["run_dir"]) / "netns"
    left += [f"netns {n}" for n in (os.listdir(netns) if netns.is_dir() else [])]
    if f"dport {port} " in rules(store):
        left.append(f"DNAT to {port}")
    return left


def eventually(check: Callable[[], list[str]], seconds: float = 15) -> list[str]:
    deadline = time.monotonic() + seconds
    while (left := check()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def test_exit_releases_the_endpoint_by_itself(pc: Run, root: Path) -> None:  # noqa: F811
    port = free_port()
    cid = ok(pc("run", "-d", "-p", f"127.0.0.1:{port}:80", "busybox", "sh", "-c", "sleep 1"))
    ep = endpoint(root, cid)
    veth = next(iter(ep["Networks"].values()))["Veth"]
    assert os.path.exists(f"/sys/class/net/{veth}") and cid in rules(root)
    # No pycore command from here on: the monitor's exit command releases it all.
    assert eventually(lambda: gone(root, cid, veth, ep["Netns"])) == []
    assert endpoints_left(root, port) == []
    assert json.loads(ok(pc("inspect", cid)))[0]["NetworkSettings"]["Ports"] == {}


def test_rm_leaves_nothing_when_run_returns(pc: Run, root: Path) -> None:  # noqa: F811
    port = free_port()
    assert pc("run", "--rm", "-p", f"127.0.0.1:{port}:80", "busybox", "true").returncode == 0
    # As soon as `run` returns: no record, rule nor netns; the veth goes with the namespace
    # (the kernel destroys it once the exiting monitor lets go).
    assert [x for x in endpoints_left(root, port) if not x.startswith("link")] == []
    assert eventually(lambda: endpoints_left(root, port), 5) == []
    r = pc("run", "--rm", "-p", f"127.0.0.1:{port}:80", "busybox", "nosuch")
    assert r.returncode == 127
    assert eventually(lambda: endpoints_left(root, port), 5) == []
    # The idle default bridge, table and netns directory go with `network cleanup`.
    assert ok(pc("network", "cleanup")) == ""
    assert network_leftovers(root) == []


def test_restart_policy_keeps_the_port_until_it_gives_up(pc: Run, root: Path) -> None:  # noqa: F811
    port = free_port()
    web = "echo hi-$(hostname) > /tmp/index.html; httpd -p 80 -h /tmp; sleep 2; exit 3"
    cid = ok(pc("run", "-d", "--restart", "on-failure:2", "-p", f"127.0.0.1:{port}:80",
                "busybox", "sh", "-c", web))  # fmt: skip
    ep = endpoint(root, cid)
    veth = next(iter(ep["Networks"].values()))["Veth"]
    deadline = time.monotonic() + 20
    while json.loads(ok(pc("inspect", cid)))[0]["RestartCount"] < 1:
        assert time.monotonic() < deadline, "no restart"
        time.sleep(0.1)
    # Restarted: same endpoint, the published port reaches the new run.
    assert endpoint(root, cid)["Networks"] == ep["Networks"]
    assert http_get(f"http://127.0.0.1:{port}/") == f"hi-{cid[:12]}"
    # After the last restart the monitor is finished for good and releases the endpoint.
    assert eventually(lambda: gone(root, cid, veth, ep["Netns"]), 30) == []
    info = json.loads(ok(pc("inspect", cid)))[0]
    assert info["RestartCount"] == 2 and info["State"]["ExitCode"] == 3
