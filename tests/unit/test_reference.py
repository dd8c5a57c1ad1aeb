"""Unit tests of pycore.reference: the distribution/reference grammar and normalization."""

from __future__ import annotations

import pytest

from pycore.digest import Digest
from pycore.errors import InvalidReference
from pycore.reference import Reference, names_registry

HEX = "a" * 64
DIGEST = f"sha256:{HEX}"

# text -> (domain, path, tag, digest)
VALID: list[tuple[str, tuple[str, str, str | None, str | None]]] = [
    ("ubuntu", ("docker.io", "library/ubuntu", "latest", None)),
    ("ubuntu:14.04", ("docker.io", "library/ubuntu", "14.04", None)),
    ("foo/bar", ("docker.io", "foo/bar", "latest", None)),
    ("foo/bar:1", ("docker.io", "foo/bar", "1", None)),
    ("foo/bar/baz", ("docker.io", "foo/bar/baz", "latest", None)),
    ("docker.io/ubuntu", ("docker.io", "library/ubuntu", "latest", None)),
    ("docker.io/library/ubuntu", ("docker.io", "library/ubuntu", "latest", None)),
    ("index.docker.io/ubuntu", ("docker.io", "library/ubuntu", "latest", None)),
    ("index.docker.io/foo/bar:x", ("docker.io", "foo/bar", "x", None)),
    ("localhost/x", ("localhost", "x", "latest", None)),
    ("localhost:5000/x:y", ("localhost:5000", "x", "y", None)),
    ("localhost:5000", ("docker.io", "library/localhost", "5000", None)),
    ("quay.io/a/b:v1.2-rc_3", ("quay.io", "a/b", "v1.2-rc_3", None)),
    ("example.com:8080/a/b/c", ("example.com:8080", "a/b/c", "latest", None)),
    ("[::1]:5000/x", ("[::1]:5000", "x", "latest", None)),
    ("[2001:db8::1]/x:t", ("[2001:db8::1]", "x", "t", None)),
    ("Registry/x", ("Registry", "x", "latest", None)),
    ("a.b-c.d/e", ("a.b-c.d", "e", "latest", None)),
    ("foo_bar/x", ("docker.io", "foo_bar/x", "latest", None)),
    ("a__b/c---d/e.f", ("docker.io", "a__b/c---d/e.f", "latest", None)),
    ("ubuntu:Tag_With.Caps-1", ("docker.io", "library/ubuntu", "Tag_With.Caps-1", None)),
    (f"ubuntu@{DIGEST}", ("docker.io", "library/ubuntu", None, DIGEST)),
    (f"ubuntu:14.04@{DIGEST}", ("docker.io", "library/ubuntu", "14.04", DIGEST)),
    (f"localhost:5000/x@{DIGEST}", ("localhost:5000", "x", None, DIGEST)),
    ("a:" + "t" * 128, ("docker.io", "library/a", "t" * 128, None)),
    ("x0", ("docker.io", "library/x0", "latest", None)),
]


@pytest.mark.parametrize(("text", "want"), VALID, ids=[t[:40] for t, _ in VALID])
def test_valid(text: str, want: tuple[str, str, str | None, str | None]) -> None:
    ref = Reference.parse(text)
    digest = Digest.parse(want[3]) if want[3] else None
    assert (ref.domain, ref.path, ref.tag, ref.digest) == (want[0], want[1], want[2], digest)


# text -> (full str, familiar)
NORMALIZED = [
    ("ubuntu", "docker.io/library/ubuntu:latest", "ubuntu:latest"),
    ("ubuntu:14.04", "docker.io/library/ubuntu:14.04", "ubuntu:14.04"),
    ("foo/bar:1", "docker.io/foo/bar:1", "foo/bar:1"),
    ("library/ubuntu", "docker.io/library/ubuntu:latest", "ubuntu:latest"),
    ("library/a/b", "docker.io/library/a/b:latest", "library/a/b:latest"),
    ("index.docker.io/ubuntu", "docker.io/library/ubuntu:latest", "ubuntu:latest"),
    ("localhost:5000/x:y", "localhost:5000/x:y", "localhost:5000/x:y"),
    ("quay.io/library/x", "quay.io/library/x:latest", "quay.io/library/x:latest"),
    (f"ubuntu@{DIGEST}", f"docker.io/library/ubuntu@{DIGEST}", f"ubuntu@{DIGEST}"),
    (f"u:1@{DIGEST}", f"docker.io/library/u:1@{DIGEST}", f"u:1@{DIGEST}"),
]


@pytest.mark.parametrize(("text", "full", "familiar"), NORMALIZED)
def test_normalization(text: str, full: str, familiar: str) -> None:
    ref = Reference.parse(text)
    assert str(ref) == full
    assert ref.familiar == familiar
    assert Reference.parse(full) == ref
    assert Reference.parse(familiar) == ref


def test_repository_and_familiar_repository() -> None:
    ref = Reference.parse("ubuntu:1")
    assert ref.repository == "docker.io/library/ubuntu"
    assert ref.familiar_repository == "ubuntu"
    assert Reference.parse("foo/bar").familiar_repository == "foo/bar"
    assert Reference.parse("localhost:5000/x").familiar_repository == "localhost:5000/x"


def test_no_default_tag() -> None:
    ref = Reference.parse("ubuntu", default_tag=False)
    assert ref.tag is None
    assert str(ref) == "docker.io/library/ubuntu"
    assert ref.familiar == "ubuntu"


def test_with_tag_and_digest() -> None:
    ref = Reference.parse(f"ubuntu:1@{DIGEST}")
    assert str(ref.with_tag("2")) == "docker.io/library/ubuntu:2"
    assert str(ref.with_digest(Digest.parse(DIGEST))) == f"docker.io/library/ubuntu@{DIGEST}"
    with pytest.raises(InvalidReference, match="bad tag"):
        ref.with_tag(".bad")


def test_frozen_and_hashable() -> None:
    ref = Reference.parse("ubuntu")
    assert {ref, Reference.parse("docker.io/library/ubuntu:latest")} == {ref}
    with pytest.raises(AttributeError):
        ref.tag = "x"  # type: ignore[misc]


def test_name_length_limit() -> None:
    # docker.io/library/ + 237 = 255: the limit is on the normalized name.
    ok = "a" * (255 - len("docker.io/library/"))
    assert Reference.parse(ok).path == "library/" + ok
    with pytest.raises(InvalidReference, match="more than 255"):
        Reference.parse(ok + "a")


# text -> fragment expected in the one-line message
INVALID = [
    ("", "empty"),
    ("Ubuntu", "must be lowercase"),
    ("foo/Bar", "must be lowercase"),
    ("docker.io/Foo", "must be lowercase"),
    ("foo//bar", "empty path component"),
    ("/foo", "empty path component"),
    ("foo/", "empty path component"),
    ("localhost:5000/", "repository name is empty"),
    ("ubuntu:", "empty tag"),
    ("ubuntu:.x", "bad tag"),
    ("ubuntu:-x", "bad tag"),
    ("ubuntu:a+b", "bad tag"),
    ("ubuntu:" + "t" * 129, "bad tag"),
    ("ubuntu@", "bad digest"),
    ("ubuntu@sha256:abc", "bad digest"),
    ("ubuntu@sha256:" + "A" * 64, "bad digest"),
    ("ubuntu@md5:" + "a" * 32, "bad digest"),
    (f"ubuntu@{DIGEST}@{DIGEST}", "bad digest"),
    ("a" * 300, "more than 255"),
    (HEX, "64-character hexadecimal"),
    ("foo/-bar", "bad repository path component '-bar'"),
    ("foo/bar-", "bad repository path component"),
    ("foo/a...b", "bad repository path component"),
    ("foo/a___b", "bad repository path component"),
    ("foo bar", "bad"),
    ("exa_mple.com/x", "bad registry host"),
    ("-bad.com/x", "bad registry host"),
    ("bad.com:port/x", "bad registry host"),
    ("[zz::1]/x", "bad registry host"),
]


@pytest.mark.parametrize(("text", "fragment"), INVALID)
def test_invalid(text: str, fragment: str) -> None:
    with pytest.raises(InvalidReference) as info:
        Reference.parse(text)
    message = str(info.value)
    assert fragment in message
    assert "\n" not in message
    assert message.startswith("invalid reference ")


def test_invalid_reference_is_a_usage_error() -> None:
    from pycore.errors import UsageError

    with pytest.raises(UsageError):
        Reference.parse("UPPER")


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("busybox", False),
        ("busybox:latest", False),
        ("library/busybox", False),
        ("user/app:1", False),
        ("127.0.0.1:5000/app:1", True),
        ("localhost/app", True),
        ("docker.io/library/busybox", True),
        ("Registry/app", True),
        ("localhost", False),
    ],
)
def test_names_registry_follows_the_domain_rule(text: str, named: bool) -> None:
    assert names_registry(text) is named
    if named:
        assert Reference.parse(text).domain == text.partition("/")[0]
