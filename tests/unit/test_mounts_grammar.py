"""pycore.runtime.mounts' hand-written name and size grammars against the regular expressions
they replaced (kept here only, as the oracle)."""

from __future__ import annotations

import random
import re

import pytest

from pycore.errors import UsageError
from pycore.runtime.mounts import check_volume_name, parse_size, valid_name

OLD_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+")
OLD_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([bkmgt]?)i?b?")
_OLD_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def old_size(text: str) -> int | None:
    m = OLD_SIZE.fullmatch(text.strip().lower())
    return int(float(m.group(1)) * _OLD_UNITS[m.group(2)]) if m else None


def new_size(text: str) -> int | None:
    try:
        return parse_size(text)
    except UsageError as e:
        assert str(e) == f"invalid size: '{text}'"
        return None


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("ab", True),
        ("a", False),
        ("", False),
        ("my-vol_1.2", True),
        ("0x", True),
        ("_ab", False),
        (".ab", False),
        ("-ab", False),
        ("a b", False),
        ("a/b", False),
        ("aé", False),
        ("a\n", False),
    ],
)
def test_valid_name(text: str, valid: bool) -> None:
    assert valid_name(text) is valid


def test_check_volume_name_message() -> None:
    assert check_volume_name("v1") == "v1"
    with pytest.raises(UsageError) as info:
        check_volume_name("bad!")
    assert str(info.value) == (
        '"bad!" includes invalid characters for a local volume name, only '
        '"[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host '
        "directory, use absolute path"
    )


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("0", 0),
        ("1", 1),
        ("10b", 10),
        ("1k", 1024),
        ("1kb", 1024),
        ("1kib", 1024),
        ("1ki", 1024),
        ("1 K", 1024),
        (" 2M ", 2 << 20),
        ("1.5g", 3 << 29),
        ("1t", 1 << 40),
        ("3ib", 3),
        ("3i", 3),
        ("7bib", 7),
        ("٣k", 3 << 10),  # Unicode decimal digits, as the regex's \d took them
    ],
)
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "k", "1.", ".5", "1..5", "1x", "1kk", "1kbi", "1 k b", "-1"])
def test_parse_size_refuses(text: str) -> None:
    with pytest.raises(UsageError, match="invalid size"):
        parse_size(text)


def test_differential_against_the_old_regexes() -> None:
    rng = random.Random(3)
    names = [
        "".join(rng.choice("aZ09_.-é/ \n") for _ in range(rng.randrange(6))) for _ in range(20000)
    ]
    for text in names:
        assert valid_name(text) is (OLD_NAME.fullmatch(text) is not None), text
    sizes = [
        "".join(
            rng.choice("0123456789..  \t\x1c\xa0\u200bkmgtbiKMGTBIx٣")
            for _ in range(rng.randrange(8))
        )
        for _ in range(40000)
    ]
    valid = 0
    for text in sizes:
        want = old_size(text)
        assert new_size(text) == want, repr(text)
        valid += want is not None
    assert valid > 1000
