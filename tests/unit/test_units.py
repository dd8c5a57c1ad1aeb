"""pycore.units.split_size against the regular expression it replaced, on many inputs."""

from __future__ import annotations

import random
import re

import pytest

from pycore.units import split_size

_OLD = re.compile(r"(\d+(?:\.\d+)?)\s*([kmgtp]?)i?b?", re.IGNORECASE)


def _old(text: str) -> tuple[float, str] | None:
    m = _OLD.fullmatch(text.strip())
    return (float(m.group(1)), m.group(2).lower()) if m else None


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("64m", (64.0, "m")),
        ("1.5G", (1.5, "g")),
        (" 512 KiB ", (512.0, "k")),
        ("100", (100.0, "")),
        ("7b", (7.0, "")),
        ("3ib", (3.0, "")),
        ("2tb", (2.0, "t")),
        (".5m", None),
        ("1.m", None),
        ("m", None),
        ("", None),
        ("1mm", None),
        ("1 x", None),
        ("-1", None),
        ("1kbb", None),
    ],
)
def test_sizes(text: str, want: tuple[float, str] | None) -> None:
    assert split_size(text, "kmgtp") == want
    assert _old(text) == want


def test_agrees_with_the_regular_expression() -> None:
    rng = random.Random(7)
    alphabet = "0123456789.kmgtpKMGTPiIbB x-"
    for _ in range(20000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 7)))
        assert split_size(text, "kmgtp") == _old(text), text
