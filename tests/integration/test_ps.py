"""What `ps` and `inspect` show beyond the lifecycle: a paused container (`Up N seconds
(Paused)`, `State.Paused`), the PORTS column of published and exposed ports, and a store with
records the listing must skip or distrust (a directory without a record, a corrupt state).

Traffic goes only to 127.0.0.1."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.containers import Run, busybox_root, cli_with_teardown

pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return busybox_root(tmp_path_factory, "ps")


@pytest.fixture
def pc(root: Path) -> Iterator[Run]:
    yield from cli_with_teardown(root)


def ok(r: object) -> str:
    assert r.returncode == 0, r.stderr  # type: ignore[attr-defined]
    return str(r.stdout).strip()  # type: ignore[attr-defined]


def rows(pc: Run, *args: str) -> dict[str, dict[str, str]]:
    out = ok(pc("ps", "-a", "--format", "json", *args))
    return {r["Names"]: r for r in map(json.loads, out.splitlines())}


def test_paused_container_in_ps_and_inspect(pc: Run) -> None:
    ok(pc("run", "-d", "--network", "none", "--name", "pz", "busybox", "sleep", "60"))
    ok(pc("pause", "pz"))
    row = rows(pc)["pz"]
    assert re.fullmatch(r"Up .+ \(Paused\)", row["Status"]), row
    assert row["State"] == "paused"
    table = ok(pc("ps")).splitlines()
    assert "(Paused)" in table[1]
    state = json.loads(ok(pc("inspect", "pz")))[0]["State"]
    assert (state["Status"], state["Running"], state["Paused"]) == ("paused", True, True)
    ok(pc("unpause", "pz"))
    row = rows(pc)["pz"]
    assert row["State"] == "running" and "Paused" not in row["Status"]
    state = json.loads(ok(pc("inspect", "pz")))[0]["State"]
    assert (state["Status"], state["Paused"]) == ("running", False)
    ok(pc("rm", "-f", "pz"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.needs("ip", "nft")
def test_ports_column(pc: Run) -> None:
    port = _free_port()
    ok(pc("run", "-d", "--name", "web", "-p", f"127.0.0.1:{port}:80", "--expose", "81",
          "busybox", "sleep", "60"))  # fmt: skip
    ok(pc("create", "--name", "idle", "-p", "8080:80", "busybox", "true"))
    listed = rows(pc)
    assert listed["web"]["Ports"] == f"127.0.0.1:{port}->80/tcp, 81/tcp"
    assert listed["idle"]["Ports"] == ""  # Docker shows ports of running containers only
    assert f"127.0.0.1:{port}->80/tcp" in ok(pc("ps", "-f", "name=web"))
    ok(pc("stop", "-t", "0", "web"))
    assert rows(pc)["web"]["Ports"] == ""
    ok(pc("rm", "web", "idle"))


def test_listing_skips_half_made_dirs_and_distrusts_corrupt_state(pc: Run, root: Path) -> None:
    cid = ok(pc("create", "--network", "none", "--name", "good", "busybox", "true"))
    bad = ok(pc("create", "--network", "none", "--name", "bad", "busybox", "true"))
    # A create killed before its record was written: a directory without container.json.
    half = root / "containers" / ("f" * 64)
    half.mkdir()
    (root / "containers" / bad / "state.json").write_text("{not json")
    listed = rows(pc)
    assert set(listed) == {"good", "bad"}
    assert listed["good"]["State"] == "created"
    assert listed["bad"]["State"] == "exited" and listed["bad"]["Status"].startswith("Exited (255)")
    assert ok(pc("ps", "-aq", "--no-trunc")).split() == [bad, cid]  # newest first
    ok(pc("rm", "good", "bad"))
    half.rmdir()


def test_size_column(pc: Run) -> None:
    ok(pc("run", "--network", "none", "--name", "sz", "busybox", "sh", "-c",
          "head -c 5000 /dev/zero > /big"))  # fmt: skip
    ok(pc("create", "--network", "none", "--name", "fresh", "busybox", "true"))
    listed = rows(pc, "-s")
    assert re.fullmatch(r"5kB \(virtual \d[\d.]*[kM]B\)", listed["sz"]["Size"]), listed["sz"]
    assert listed["fresh"]["Size"].startswith("0B (virtual ")
    header = ok(pc("ps", "-a", "-s")).splitlines()[0].split()
    assert header[-1] == "SIZE"
    assert "SIZE" not in ok(pc("ps", "-a")).splitlines()[0]
    ok(pc("rm", "sz", "fresh"))
