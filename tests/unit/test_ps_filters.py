"""`ps --filter` semantics (AND between keys, OR within one), their errors, and `--last`;
the time and tail parsing of `logs`."""

from __future__ import annotations

import pytest

from pycore.errors import UsageError
from pycore.runtime import logs
from pycore.runtime.ps import Facts, Filters, last_n
from pycore.structs import struct


@struct(frozen=True)
class Ctr:
    id: str
    name: str
    image: str = "busybox"
    image_id: str = "sha256:" + "ab" * 32
    created: str = "2024-01-01T00:00:00Z"


WEB = Ctr("a1" * 32, "web1")
DB = Ctr("b2" * 32, "db", image="postgres:16", image_id="sha256:" + "cd" * 32)
RUNNING = Facts("running", None, {"app": "web", "tier": "front"})
EXITED = Facts("exited", 3, {})


def test_and_between_keys_or_within_one() -> None:
    f = Filters.parse(["name=web", "name=db", "status=running"])
    assert f.matches(WEB, RUNNING) and f.matches(DB, RUNNING)
    assert not f.matches(WEB, EXITED)
    f = Filters.parse(["name=web", "label=app=web"])
    assert f.matches(WEB, RUNNING) and not f.matches(DB, RUNNING)


@pytest.mark.parametrize(
    ("item", "ctr", "facts", "want"),
    [
        ("name=^/web", WEB, RUNNING, True),
        ("name=^web", WEB, RUNNING, False),  # names carry Docker's leading slash
        ("name=eb", WEB, RUNNING, True),
        ("id=a1a1", WEB, RUNNING, True),
        ("id=b2", WEB, RUNNING, False),
        ("ancestor=busybox", WEB, RUNNING, True),
        ("ancestor=busybox:latest", WEB, RUNNING, True),
        ("ancestor=docker.io/library/busybox", WEB, RUNNING, True),
        ("ancestor=postgres", DB, RUNNING, False),
        ("ancestor=postgres:16", DB, RUNNING, True),
        ("ancestor=cdcd", DB, RUNNING, True),
        ("ancestor=sha256:" + "cd" * 32, DB, RUNNING, True),
        ("label=app", WEB, RUNNING, True),
        ("label=app=db", WEB, RUNNING, False),
        ("label=nope", WEB, RUNNING, False),
        ("exited=3", WEB, EXITED, True),
        ("exited=0", WEB, EXITED, False),
        ("exited=3", WEB, RUNNING, False),
        ("status=exited", WEB, EXITED, True),
        ("status=paused", WEB, Facts("paused", None, {}), True),
    ],
)
def test_each_key(item: str, ctr: Ctr, facts: Facts, want: bool) -> None:
    assert Filters.parse([item]).matches(ctr, facts) is want


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("color=red", "invalid filter 'color'"),
        ("status=sleeping", "invalid filter 'status=sleeping'"),
        ("exited=x", "invalid filter 'exited=x'"),
        ("name", "bad format of filter"),
        ("name=(", "invalid filter 'name=('"),
    ],
)
def test_bad_filters(item: str, message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("(", r"\(")):
        Filters.parse([item])


def test_status_and_exited_look_at_stopped_containers() -> None:
    assert Filters.parse(["status=exited"]).wants_all
    assert Filters.parse(["exited=0"]).wants_all
    assert not Filters.parse(["name=x"]).wants_all


def test_last_n_is_by_creation() -> None:
    a = Ctr("1" * 64, "a", created="2024-01-01T00:00:01Z")
    b = Ctr("2" * 64, "b", created="2024-01-01T00:00:03Z")
    c = Ctr("3" * 64, "c", created="2024-01-01T00:00:02Z")
    assert [x.name for x in last_n([a, b, c], 2)] == ["b", "c"]
    assert last_n([a, b, c], 0) == []


def test_log_times() -> None:
    now = 1_700_000_000.0
    assert logs.parse_time("10m", now) == now - 600
    assert logs.parse_time("1h30m", now) == now - 5400
    assert logs.parse_time("2.5s", now) == now - 2.5
    assert logs.parse_time("1700000000.25", now) == 1_700_000_000.25
    assert logs.parse_time("2023-11-14T22:13:20Z", now) == 1_700_000_000.0
    assert logs.parse_time("2023-11-14T23:13:20+01:00", now) == 1_700_000_000.0
    assert logs.parse_time("2023-11-14T22:13:20.5Z", now) == 1_700_000_000.5
    assert logs.parse_time("2023-11-14", now) == 1_699_920_000.0
    with pytest.raises(UsageError):
        logs.parse_time("yesterday", now)
    assert logs.rfc3339_epoch("2023-11-14T22:13:20.123456789Z") == pytest.approx(
        1_700_000_000.123456789
    )
    assert logs.parse_tail("all") is None and logs.parse_tail("3") == 3
    with pytest.raises(UsageError):
        logs.parse_tail("x")


def test_log_window_and_tail(tmp_path: object) -> None:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    log = tmp_path / "log"
    lines = [
        f'{{"log": "l{i}\\n", "stream": "stdout", "time": "2023-11-14T22:13:2{i}.000000001Z"}}'
        for i in range(5)
    ]
    log.write_text("\n".join([*lines, "garbage"]) + "\n")
    texts = lambda **kw: [e.text for e in logs.read(log, **kw)]  # noqa: E731
    assert texts() == ["l0\n", "l1\n", "l2\n", "l3\n", "l4\n"]
    assert texts(tail=2) == ["l3\n", "l4\n"]
    assert texts(tail=0) == []
    assert texts(since=1_700_000_002.0) == ["l2\n", "l3\n", "l4\n"]
    assert texts(until=1_700_000_001.5) == ["l0\n", "l1\n"]
    assert texts(since=1_700_000_001.0, until=1_700_000_003.5, tail=1) == ["l3\n"]
    assert texts(follow=lambda: False) == texts()
    assert list(logs.read(tmp_path / "missing")) == []
