"""Unit tests of pycore.digest: the digest grammar, checked by hand, against the regular
expression it replaced (kept here only, as the oracle)."""

from __future__ import annotations

import random
import re

import pytest

from pycore.digest import Digest
from pycore.errors import InvalidDigest

HEX = "0123456789abcdef"
SHA = "a" * 64

# The implementation this module had before it stopped importing `re`: the oracle.
_OLD_GRAMMAR = re.compile(r"^([a-z0-9]+(?:[+._-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$")
_OLD_HEX_LEN = {"sha256": 64, "sha512": 128}


def _old_parse(text: str) -> tuple[str, str] | str:
    """`(algorithm, hex)`, or the InvalidDigest message, as the regex version gave them."""
    m = _OLD_GRAMMAR.match(text)
    if not m:
        return f"invalid digest {text!r}: expected algorithm:hex"
    algorithm, value = m.group(1), m.group(2)
    want = _OLD_HEX_LEN.get(algorithm)
    if want is None:
        return f"invalid digest {text!r}: unsupported algorithm {algorithm!r}"
    if len(value) != want or not re.fullmatch(r"[0-9a-f]+", value):
        return f"invalid digest {text!r}: {algorithm} needs {want} lowercase hex characters"
    return algorithm, value


def _new_parse(text: str) -> tuple[str, str] | str:
    try:
        d = Digest.parse(text)
    except InvalidDigest as e:
        return str(e)
    return d.algorithm, d.hex


@pytest.mark.parametrize(
    "text",
    [f"sha256:{SHA}", f"sha512:{'0' * 128}", f"sha256:{HEX * 4}"],
)
def test_valid(text: str) -> None:
    d = Digest.parse(text)
    assert str(d) == text
    assert d.short == text.partition(":")[2][:12]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "expected algorithm:hex"),
        ("sha256", "expected algorithm:hex"),
        ("sha256:", "expected algorithm:hex"),
        (":" + SHA, "expected algorithm:hex"),
        (f"SHA256:{SHA}", "expected algorithm:hex"),
        (f"sha256:{SHA}:x", "expected algorithm:hex"),
        (f"sha+:{SHA}", "expected algorithm:hex"),
        (f"+sha:{SHA}", "expected algorithm:hex"),
        (f"sha..256:{SHA}", "expected algorithm:hex"),
        (f"sha256:{SHA[:-1]}!", "expected algorithm:hex"),
        (f"md5:{'a' * 32}", "unsupported algorithm 'md5'"),
        (f"sha+256:{SHA}", "unsupported algorithm"),
        ("sha256:abc", "needs 64 lowercase hex"),
        (f"sha256:{'A' * 64}", "needs 64 lowercase hex"),
        (f"sha256:{'g' * 64}", "needs 64 lowercase hex"),
        (f"sha512:{SHA}", "sha512 needs 128"),
    ],
)
def test_invalid(text: str, fragment: str) -> None:
    with pytest.raises(InvalidDigest, match=re.escape(fragment)):
        Digest.parse(text)


def test_one_trailing_newline_is_ignored_as_the_regex_did() -> None:
    assert Digest.parse(f"sha256:{SHA}\n") == Digest("sha256", SHA)
    with pytest.raises(InvalidDigest):
        Digest.parse(f"sha256:{SHA}\n\n")
    with pytest.raises(InvalidDigest):
        Digest.parse(f"sha256:\n{SHA}")


def _digest_like(rng: random.Random) -> str:
    """A string near the grammar: real digests, mutated, and random text over its alphabet."""
    kind = rng.randrange(4)
    if kind == 0:
        algorithm = rng.choice(["sha256", "sha512", "sha256+b64", "multi.part-x_y", "md5"])
        size = rng.choice([64, 128, 63, 65, 1, 0, rng.randrange(200)])
        alphabet = rng.choice([HEX, HEX + "ABCDEF", HEX + "=_-g"])
        text = f"{algorithm}:{''.join(rng.choice(alphabet) for _ in range(size))}"
    elif kind == 1:
        text = f"sha256:{''.join(rng.choice(HEX) for _ in range(64))}"
    else:
        alphabet = "ab09AZ+._-=:\n é٣"
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(12)))
    for _ in range(rng.choice([0, 0, 1, 2])):  # mutations: insert, delete or replace one char
        i = rng.randrange(len(text) + 1)
        c = rng.choice("a0Z+._-=:\n !é")
        op = rng.randrange(3)
        text = (
            text[:i] + c + text[i:]
            if op == 0
            else text[:i] + text[i + 1 :]
            if op == 1
            else text[:i] + c + text[i + 1 :]
        )
    return text


def test_differential_against_the_old_regex() -> None:
    rng = random.Random(20240611)
    texts = [_digest_like(rng) for _ in range(40000)]
    # Every algorithm shape up to 4 characters over a small alphabet, exhaustively.
    small = "a0+.-_:"
    level = [""]
    for _ in range(4):
        level = [t + c for t in level for c in small]
        texts += [f"{t}:{SHA}" for t in level] + [f"sha256{t}" for t in level]
    valid = 0
    for text in texts:
        want = _old_parse(text)
        assert _new_parse(text) == want, text
        valid += isinstance(want, tuple)
    assert valid > 1000  # the generator reaches both sides of the grammar
