"""`-p`, `--expose`, `-P` parsing (pycore.network.ports)."""

from __future__ import annotations

import pytest

from pycore.errors import UsageError
from pycore.network.ports import (
    PortBinding,
    describe,
    overlaps,
    parse_expose,
    parse_publish,
    publish_all,
)
from tests.helpers.imports import heavy_loaded


def test_publish_forms() -> None:
    assert parse_publish("80") == [PortBinding(80)]
    assert parse_publish("8080:80") == [PortBinding(80, "tcp", "", 8080)]
    assert parse_publish("127.0.0.1:8080:80/udp") == [PortBinding(80, "udp", "127.0.0.1", 8080)]
    assert parse_publish("127.0.0.1::80") == [PortBinding(80, "tcp", "127.0.0.1", 0)]
    assert parse_publish("0.0.0.0:1:2") == [PortBinding(2, "tcp", "", 1)]
    assert parse_publish("8000-8002:80-82") == [
        PortBinding(80, "tcp", "", 8000),
        PortBinding(81, "tcp", "", 8001),
        PortBinding(82, "tcp", "", 8002),
    ]
    assert parse_publish("80-81") == [PortBinding(80), PortBinding(81)]


@pytest.mark.parametrize(
    "bad",
    ["", "x", "0", "65536", "1:2:3:4", "8000-8001:80", "80/sctp", "nope:1:2", "[::1]:1:2", "9-8"],
)
def test_publish_rejects(bad: str) -> None:
    with pytest.raises(UsageError):
        parse_publish(bad)


def test_expose_and_publish_all() -> None:
    assert parse_expose("53/udp") == ["53/udp"]
    assert parse_expose("8000-8001") == ["8000/tcp", "8001/tcp"]
    explicit = [PortBinding(80, "tcp", "", 8080)]
    assert publish_all(["80/tcp", "443/tcp", "443/tcp", "53/udp"], explicit) == [
        PortBinding(443),
        PortBinding(53, "udp"),
    ]


def test_overlaps_and_describe() -> None:
    any8080 = PortBinding(80, "tcp", "", 8080)
    lo8080 = PortBinding(81, "tcp", "127.0.0.1", 8080)
    assert overlaps(any8080, lo8080)
    assert not overlaps(any8080, PortBinding(80, "udp", "", 8080))
    assert not overlaps(lo8080, PortBinding(80, "tcp", "127.0.0.2", 8080))
    assert describe(any8080) == "0.0.0.0:8080" and describe(lo8080) == "127.0.0.1:8080"
    assert any8080.key == "80/tcp"


@pytest.mark.parametrize(
    ("spec", "host_ip"), [("0.0.0.0:8080:80", ""), ("10.1.2.3:8080:80", "10.1.2.3")]
)
def test_a_host_address_as_written(spec: str, host_ip: str) -> None:
    assert parse_publish(spec) == [PortBinding(80, "tcp", host_ip, 8080)]


@pytest.mark.parametrize("host_ip", ["127.000.0.1", "1.2.3.256", "127.1", "1.2.3.4.5", "x.y.z.w"])
def test_a_host_address_ipaddress_refuses_is_refused(host_ip: str) -> None:
    with pytest.raises(UsageError, match="invalid IP address in publish spec"):
        parse_publish(f"{host_ip}:8080:80")


def test_a_host_address_loads_no_ipaddress() -> None:
    code = "from pycore.network.ports import parse_publish\nparse_publish('127.0.0.1:8080:80')"
    assert heavy_loaded(code) == []
