"""pycore.reference's hand-written grammar checks against the regular expressions they
replaced (distribution/reference's, kept here only, as the oracle): the same verdict and the
same message on every generated reference, valid or not."""

from __future__ import annotations

import random
import re

import pytest

from pycore import reference
from pycore.errors import InvalidReference
from pycore.reference import Reference

# -- the oracle: pycore.reference as it was before it stopped importing `re` -----------------

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
OLD_PATH_COMPONENT = re.compile(rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*")
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
OLD_DOMAIN = re.compile(
    rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
)
OLD_TAG = re.compile(r"[\w][\w.-]{0,127}", re.ASCII)
OLD_IDENTIFIER = re.compile(r"[a-f0-9]{64}")
OLD_DIGEST = re.compile(r"^([a-z0-9]+(?:[+._-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$")

Parsed = tuple[str, str, "str | None", "str | None"]


class _Bad(Exception):
    pass


def _fail(text: str, why: str) -> _Bad:
    return _Bad(f"invalid reference {text!r}: {why}")


def _old_bad_tag(tag: str) -> str:
    if not tag:
        return "empty tag after ':'"
    return (
        f"bad tag {tag!r}: a tag is 1 to 128 letters, digits, '_', '.' or '-', "
        "not starting with '.' or '-'"
    )


def old_parse(text: str) -> Parsed | str:
    """`(domain, path, tag, digest)` or the error message, as the regex version gave them."""
    try:
        return _old_parse(text)
    except _Bad as e:
        return str(e)


def _old_parse(text: str) -> Parsed:
    if not text:
        raise _Bad("invalid reference '': the reference is empty")
    if OLD_IDENTIFIER.fullmatch(text):
        raise _fail(text, "a repository name cannot be a 64-character hexadecimal id")
    name, at, rest = text.partition("@")
    digest = None
    if at:
        m = OLD_DIGEST.match(rest)
        want = {"sha256": 64, "sha512": 128}.get(m.group(1)) if m else None
        if not m or want is None or not re.fullmatch(f"[0-9a-f]{{{want}}}", m.group(2)):
            raise _fail(
                text, f"bad digest {rest!r}: expected sha256: followed by 64 lowercase hex digits"
            )
        digest = f"{m.group(1)}:{m.group(2)}"
    tag = None
    colon = name.rfind(":")
    if colon != -1 and colon > name.rfind("/"):
        tag = name[colon + 1 :]
        if not OLD_TAG.fullmatch(tag):
            raise _fail(text, _old_bad_tag(tag))
        name = name[:colon]
    first, slash, rest = name.partition("/")
    if bool(slash) and (
        any(c in first for c in ".:") or first == "localhost" or first.lower() != first
    ):
        domain, path = first, rest
        if not OLD_DOMAIN.fullmatch(domain):
            raise _fail(text, f"bad registry host {domain!r}")
    else:
        domain, path = "docker.io", name
    if domain == "index.docker.io":
        domain = "docker.io"
    if not path:
        raise _fail(text, "repository name is empty")
    for component in path.split("/"):
        if not component:
            raise _fail(text, "repository name has an empty path component")
        if component.lower() != component:
            raise _fail(text, f"repository name {path!r} must be lowercase")
        if not OLD_PATH_COMPONENT.fullmatch(component):
            raise _fail(
                text,
                f"bad repository path component {component!r}: use lowercase letters and "
                "digits, separated by '.', '_', '__' or dashes",
            )
    if domain == "docker.io" and "/" not in path:
        path = "library/" + path
    full = f"{domain}/{path}"
    if len(full) > 255:
        raise _fail(text, f"repository name is {len(full)} characters long, more than 255")
    if tag is None and digest is None:
        tag = "latest"
    return domain, path, tag, digest


def new_parse(text: str) -> Parsed | str:
    try:
        ref = Reference.parse(text)
    except InvalidReference as e:
        return str(e)
    return ref.domain, ref.path, ref.tag, str(ref.digest) if ref.digest else None


# -- generators --------------------------------------------------------------------------------

HEX = "0123456789abcdef"
LOWER = "abcdefghijklmnopqrstuvwxyz0123456789"
MUTATIONS = "aZ09._-_:/@[]+ !é٣\n"


def _run(rng: random.Random, alphabet: str, low: int, high: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(low, high)))


def _component(rng: random.Random) -> str:
    out = _run(rng, LOWER, 1, 6)
    for _ in range(rng.choice([0, 0, 1, 2])):
        out += rng.choice([".", "_", "__", "-", "--", "---"]) + _run(rng, LOWER, 1, 4)
    return out


def _host(rng: random.Random) -> str:
    kind = rng.randrange(5)
    if kind == 0:
        return "localhost"
    if kind == 1:
        return ".".join(str(rng.randrange(256)) for _ in range(4))
    if kind == 2:
        groups = [_run(rng, HEX + "ABCDEF", 0, 4) for _ in range(rng.randint(2, 8))]
        return "[" + ":".join(groups) + "]"
    labels = []
    for _ in range(rng.randint(1, 4)):
        label = _run(rng, "abcXYZ019", 1, 5)
        if rng.random() < 0.3:
            label = label[0] + "-" * rng.randint(1, 2) + label
        labels.append(label)
    return ".".join(labels)


def _valid_like(rng: random.Random) -> str:
    """A reference built from the grammar's productions (most of them valid)."""
    name = "/".join(_component(rng) for _ in range(rng.randint(1, 4)))
    if rng.random() < 0.5:
        host = _host(rng)
        if rng.random() < 0.4:
            host += ":" + str(rng.choice([0, 80, 5000, 65535, 123456]))
        name = f"{host}/{name}"
    if rng.random() < 0.1:  # edge lengths: around the 255-character limit on the full name
        name += "/" + "a" * rng.randint(200, 260)
    if rng.random() < 0.6:
        size = rng.choice([1, 5, 127, 128, 129])
        name += ":" + rng.choice("aZ_09") + _run(rng, "aZ09_.-", size - 1, size - 1)
    if rng.random() < 0.3:
        algorithm, size = rng.choice([("sha256", 64), ("sha512", 128), ("sha256", 63)])
        name += f"@{algorithm}:{_run(rng, HEX, size, size)}"
    return name


def _mutate(rng: random.Random, text: str) -> str:
    for _ in range(rng.randint(1, 3)):
        i = rng.randrange(len(text) + 1)
        c = rng.choice(MUTATIONS)
        op = rng.randrange(4)
        if op == 0:
            text = text[:i] + c + text[i:]
        elif op == 1:
            text = text[:i] + text[i + 1 :]
        elif op == 2:
            text = text[:i] + c + text[i + 1 :]
        else:
            text = text[:i] + text[i:].upper()
    return text


def _references(count: int) -> list[str]:
    rng = random.Random(7)
    out: list[str] = []
    for _ in range(count):
        kind = rng.randrange(4)
        if kind == 0:
            out.append(_valid_like(rng))
        elif kind == 1:
            out.append(_mutate(rng, _valid_like(rng)))
        else:
            out.append(_run(rng, "ab09AZ._-_:/@[]", 0, 14))
    out += [
        "a" * 64,
        "a" * 63 + "g",
        "A" * 64,
        "[]/x",
        "[:]/x",
        "[::1]:/x",
        "[::1]x/y",
        "[::1/x",
        "a.-b.c/x",
        "a-.b/x",
        "a..b/x",
        "x:5000:1/y",
        "localhost:/x",
        ":5000/x",
        "docker.io/" + "a" * 245,
        "docker.io/" + "a" * 246,
        "x/" + "a" * 236,
        "x/" + "a" * 237,
    ]
    return out


# -- the tests ---------------------------------------------------------------------------------

REFERENCES = _references(60000)


def test_parse_agrees_with_the_regex_version() -> None:
    valid = 0
    for text in REFERENCES:
        want = old_parse(text)
        assert new_parse(text) == want, text
        valid += isinstance(want, tuple)
    assert 10000 < valid < len(REFERENCES) - 10000  # both sides of the grammar are reached


def _pieces() -> list[str]:
    """Strings a grammar terminal sees: split out of the generated references, and random."""
    rng = random.Random(11)
    out: set[str] = set()
    for text in REFERENCES[:20000]:
        for part in re.split("[/@]", text):
            out.add(part)
            out.update(part.split(":"))
            out.add(part.partition(":")[2])
    for _ in range(20000):
        out.add(_run(rng, "abfgAF09._-_:[]é٣\n", 0, 8))
    out.update("".join(rng.choice(HEX) for _ in range(n)) for n in (63, 64, 65) for _ in range(50))
    out.update(
        rng.choice("aZ_.-") + _run(rng, "aZ09_.-", n, n) for n in (126, 127, 128) for _ in range(50)
    )
    return sorted(out)


PIECES = _pieces()


@pytest.mark.parametrize(
    ("check", "regex"),
    [
        (reference._is_tag, OLD_TAG),
        (reference._is_domain, OLD_DOMAIN),
        (reference._is_path_component, OLD_PATH_COMPONENT),
        (reference._is_identifier, OLD_IDENTIFIER),
    ],
    ids=["tag", "domain", "path-component", "identifier"],
)
def test_terminals_agree_with_their_regexes(check: object, regex: re.Pattern[str]) -> None:
    assert callable(check)
    matched = 0
    for piece in PIECES:
        want = regex.fullmatch(piece) is not None
        assert check(piece) is want, piece
        matched += want
    assert matched > 50
