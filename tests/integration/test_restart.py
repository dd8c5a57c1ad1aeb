"""Restart policies, applied by the container's monitor after the CLI has gone."""

from __future__ import annotations

import json
import re
import time

import pytest

from tests.integration.test_run import Run, pc, root  # noqa: F401  (fixtures)

pytestmark = pytest.mark.root


def _state(pc: Run, ref: str) -> dict[str, object]:  # noqa: F811
    return json.loads(pc("inspect", ref).stdout)[0]  # type: ignore[no-any-return]


def test_on_failure_restarts_n_times_then_exits(pc: Run) -> None:  # noqa: F811
    r = pc("run", "--name", "of2", "--restart", "on-failure:2", "busybox", "sh", "-c",
           "echo ran; exit 3")  # fmt: skip
    assert r.returncode == 3  # the attached CLI returns with the first exit
    assert pc("wait", "of2").stdout.strip() == "3"
    info = _state(pc, "of2")
    assert info["RestartCount"] == 2
    assert info["State"]["Status"] == "exited"  # type: ignore[index]
    assert info["HostConfig"]["RestartPolicy"] == {  # type: ignore[index]
        "Name": "on-failure",
        "MaximumRetryCount": 2,
    }
    assert pc("logs", "of2").stdout.count("ran") == 3
    pc("rm", "of2")


def test_on_failure_does_not_restart_success(pc: Run) -> None:  # noqa: F811
    cid = pc("run", "-d", "--restart", "on-failure", "busybox", "true").stdout.strip()
    assert pc("wait", cid).stdout.strip() == "0"
    assert _state(pc, cid)["RestartCount"] == 0
    pc("rm", cid)


@pytest.mark.parametrize("policy", ["always", "unless-stopped"])
def test_always_keeps_the_id_until_stopped(pc: Run, policy: str) -> None:  # noqa: F811
    cid = pc("run", "-d", "--restart", policy, "busybox", "sh", "-c", "sleep 0.1").stdout.strip()
    deadline = time.monotonic() + 20
    while _state(pc, cid)["RestartCount"] < 2:  # type: ignore[operator]
        assert time.monotonic() < deadline, "no restarts"
        time.sleep(0.1)
    assert pc("ps", "-q", "--no-trunc").stdout.split() == [cid]
    assert pc("stop", "-t", "5", cid).returncode == 0
    count = _state(pc, cid)["RestartCount"]
    time.sleep(1)
    info = _state(pc, cid)
    assert info["State"]["Status"] == "exited"  # type: ignore[index]
    assert info["RestartCount"] == count
    # A new start clears the stop and the count (as Docker's), and the policy applies again.
    assert pc("start", cid).returncode == 0
    deadline = time.monotonic() + 20
    while _state(pc, cid)["RestartCount"] < 1:  # type: ignore[operator]
        assert time.monotonic() < deadline, "no restart after start"
        time.sleep(0.1)
    assert pc("rm", "-f", cid).returncode == 0


def test_restart_and_rm_conflict(pc: Run) -> None:  # noqa: F811
    r = pc("run", "--rm", "--restart", "always", "busybox", "true")
    assert r.returncode == 125
    assert "Conflicting options" in r.stderr


@pytest.mark.parametrize("bad", ["sometimes", "always:3", "on-failure:x"])
def test_bad_policy(pc: Run, bad: str) -> None:  # noqa: F811
    r = pc("run", "--restart", bad, "busybox", "true")
    assert r.returncode == 125
    assert "restart policy" in r.stderr


def test_restarting_between_runs(pc: Run) -> None:  # noqa: F811
    """Between two runs (the back-off) Docker shows the container running and restarting,
    without a pid, with the last exit code: inspect's State and ps's STATUS."""
    r = pc("run", "-d", "--restart", "always", "busybox", "sh", "-c", "echo ran; exit 3")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    deadline = time.monotonic() + 30  # the back-off doubles: soon it is restarting mostly
    while (state := _state(pc, cid)["State"])["Status"] != "restarting":  # type: ignore[index]
        assert time.monotonic() < deadline, "never seen restarting"
        time.sleep(0.05)
    assert state["Running"] is True and state["Restarting"] is True  # type: ignore[index]
    assert state["Pid"] == 0 and state["ExitCode"] == 3  # type: ignore[index]
    # Docker counts the restart it waits for: within one back-off (the same restarting
    # state before and after), RestartCount is the number of runs so far.
    while True:
        before = _state(pc, cid)
        runs = pc("logs", cid).stdout.count("ran")
        if before == _state(pc, cid) and before["State"]["Status"] == "restarting":  # type: ignore[index]
            break
        assert time.monotonic() < deadline, "no steady restarting state"
    assert before["RestartCount"] == runs
    while True:
        rows = pc("ps", "--format", "json", "-f", "status=restarting").stdout.splitlines()
        if rows:
            break
        assert time.monotonic() < deadline, "never listed as restarting"
        time.sleep(0.05)
    row = json.loads(rows[0])
    assert row["State"] == "restarting"
    assert re.fullmatch(r"Restarting \(3\) .+ ago", row["Status"]), row["Status"]
    assert pc("rm", "-f", cid).returncode == 0
    assert pc("ps", "-aq").stdout == ""
