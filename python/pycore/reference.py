"""Image references: the grammar and normalization of Docker's distribution/reference.

`Reference.parse("ubuntu")` is `docker.io/library/ubuntu:latest`; `.familiar` turns it back
into the short form listings show. Grammar (distribution/reference, `reference.go`):

    reference        := name [ ":" tag ] [ "@" digest ]
    name             := [domain "/"] path-component ["/" path-component]*
    domain           := host [":" port-number]
    host             := domain-name | "[" IPv6address "]"
    path-component   := alpha-numeric [separator alpha-numeric]*
    alpha-numeric    := /[a-z0-9]+/
    separator        := /[_.]|__|[-]+/
    tag              := /[\\w][\\w.-]{0,127}/
"""

from __future__ import annotations

from pycore.digest import Digest
from pycore.errors import InvalidDigest, InvalidReference
from pycore.structs import replace, struct

DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
OFFICIAL_REPO_PREFIX = "library/"
DEFAULT_TAG = "latest"
NAME_TOTAL_LENGTH_MAX = 255

# The grammar's terminals, checked by hand rather than with `re` (whose import costs every CLI
# start milliseconds). All ASCII: Go's character classes and \w are.
_DIGITS = "0123456789"
_LOWER_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyz" + _DIGITS)
_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" + _DIGITS)
_WORD = _ALNUM | {"_"}
_TAG_CHARS = _WORD | {".", "-"}
_DOMAIN_LABEL_CHARS = _ALNUM | {"-"}
_IPV6_CHARS = frozenset("abcdefABCDEF:" + _DIGITS)
_HEX_LOWER = frozenset("abcdef" + _DIGITS)
_PORT_CHARS = frozenset(_DIGITS)
TAG_LENGTH_MAX = 128


def _is_identifier(text: str) -> bool:
    """/[a-f0-9]{64}/: an image id, which a repository name may not be."""
    return len(text) == 64 and _HEX_LOWER.issuperset(text)


def _is_tag(tag: str) -> bool:
    """/[\\w][\\w.-]{0,127}/ (ASCII \\w)."""
    return 0 < len(tag) <= TAG_LENGTH_MAX and tag[0] in _WORD and _TAG_CHARS.issuperset(tag)


def _is_path_component(component: str) -> bool:
    """/[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*/: letter-digit runs joined by one separator."""
    separator: str | None = None  # None before the first letter or digit
    for c in component:
        if c in _LOWER_ALNUM:
            if separator and not _is_separator(separator):
                return False
            separator = ""
        elif separator is None:
            return False
        else:
            separator += c
    return separator == ""


def _is_separator(text: str) -> bool:
    """/[._]|__|[-]+/"""
    return text in (".", "_", "__") or text == "-" * len(text)


def _is_domain(domain: str) -> bool:
    """host [":" port], host := domain-name | "[" IPv6address "]" (distribution/reference's
    domainAndPort: dot-separated labels of letters, digits and inner dashes, or bracketed hex
    digits and colons; the port is decimal digits)."""
    if domain.startswith("["):
        end = domain.find("]")
        if end < 2 or not _IPV6_CHARS.issuperset(domain[1:end]):
            return False
        port = domain[end + 1 :]
        return not port or (port[0] == ":" and _is_port(port[1:]))
    host, colon, port = domain.partition(":")
    if colon and not _is_port(port):
        return False
    return all(_is_domain_label(label) for label in host.split("."))


def _is_port(text: str) -> bool:
    return bool(text) and _PORT_CHARS.issuperset(text)


def _is_domain_label(label: str) -> bool:
    """/[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]/"""
    return (
        bool(label)
        and label[0] in _ALNUM
        and label[-1] in _ALNUM
        and _DOMAIN_LABEL_CHARS.issuperset(label)
    )


def _fail(text: str, why: str) -> InvalidReference:
    return InvalidReference(f"invalid reference {text!r}: {why}")


@struct(frozen=True, slots=True)
class Reference:
    """A normalized image reference. `domain` and `path` are always set (`docker.io`,
    `library/ubuntu`); `tag` and `digest` are optional. When both are given the digest is what
    the reference resolves to; the tag is kept for display."""

    domain: str
    path: str
    tag: str | None = None
    digest: Digest | None = None

    @classmethod
    def parse(cls, text: str, *, default_tag: bool = True) -> Reference:
        """Parse and normalize `text` (`ubuntu`, `foo/bar:1`, `localhost:5000/x@sha256:...`).

        With `default_tag`, a reference with neither tag nor digest gets `:latest`.
        Raises InvalidReference naming the part that is wrong.
        """
        if not text:
            raise InvalidReference("invalid reference '': the reference is empty")
        if _is_identifier(text):
            raise _fail(text, "a repository name cannot be a 64-character hexadecimal id")
        name, digest = _split_digest(text)
        name, tag = _split_tag(text, name)
        domain, path = _split_domain(text, name)
        full = f"{domain}/{path}"
        if len(full) > NAME_TOTAL_LENGTH_MAX:
            raise _fail(
                text,
                f"repository name is {len(full)} characters long, "
                f"more than {NAME_TOTAL_LENGTH_MAX}",
            )
        if default_tag and tag is None and digest is None:
            tag = DEFAULT_TAG
        return cls(domain, path, tag, digest)

    @property
    def repository(self) -> str:
        """The full repository name without tag or digest: `docker.io/library/ubuntu`."""
        return f"{self.domain}/{self.path}"

    @property
    def familiar_repository(self) -> str:
        """The repository as Docker shows it: `ubuntu`, `foo/bar`, `localhost:5000/x`."""
        if self.domain != DEFAULT_DOMAIN:
            return self.repository
        rest = self.path.removeprefix(OFFICIAL_REPO_PREFIX)
        return rest if "/" not in rest else self.path

    @property
    def familiar(self) -> str:
        """The short form for listings and messages: `ubuntu:14.04`, `foo/bar:1`."""
        return self.familiar_repository + self._suffix()

    def with_tag(self, tag: str) -> Reference:
        """The same repository with `tag` (validated) and no digest."""
        if not _is_tag(tag):
            raise _fail(f"{self.repository}:{tag}", _bad_tag(tag))
        return replace(self, tag=tag, digest=None)

    def with_digest(self, digest: Digest) -> Reference:
        """The same repository pinned to `digest` (no tag): a repo digest like Docker's."""
        return replace(self, tag=None, digest=digest)

    def _suffix(self) -> str:
        out = f":{self.tag}" if self.tag is not None else ""
        return out + (f"@{self.digest}" if self.digest is not None else "")

    def __str__(self) -> str:
        return self.repository + self._suffix()


def _split_digest(text: str) -> tuple[str, Digest | None]:
    name, at, rest = text.partition("@")
    if not at:
        return name, None
    try:
        return name, Digest.parse(rest)
    except InvalidDigest:
        raise _fail(
            text, f"bad digest {rest!r}: expected sha256: followed by 64 lowercase hex digits"
        ) from None


def _split_tag(text: str, name: str) -> tuple[str, str | None]:
    colon = name.rfind(":")
    # A colon before the last slash belongs to the registry port (`localhost:5000/x`).
    if colon == -1 or colon < name.rfind("/"):
        return name, None
    tag = name[colon + 1 :]
    if not _is_tag(tag):
        raise _fail(text, _bad_tag(tag))
    return name[:colon], tag


def _bad_tag(tag: str) -> str:
    if not tag:
        return "empty tag after ':'"
    return (
        f"bad tag {tag!r}: a tag is 1 to 128 letters, digits, '_', '.' or '-', "
        "not starting with '.' or '-'"
    )


def names_registry(text: str) -> bool:
    """Whether the reference names its registry (`127.0.0.1:5000/app`, `docker.io/x`) rather
    than leaving it to the default (`busybox`, `library/busybox`)."""
    first, slash, _ = text.partition("/")
    # distribution/reference's splitDockerDomain: the first component is a registry host when
    # it has a '.' or ':', is 'localhost', or has uppercase letters (never valid in a path).
    return bool(slash) and (
        any(c in first for c in ".:") or first == "localhost" or first.lower() != first
    )


def _split_domain(text: str, name: str) -> tuple[str, str]:
    first, _, rest = name.partition("/")
    if names_registry(name):
        domain, path = first, rest
        if not _is_domain(domain):
            raise _fail(text, f"bad registry host {domain!r}")
    else:
        domain, path = DEFAULT_DOMAIN, name
    if domain == LEGACY_DEFAULT_DOMAIN:
        domain = DEFAULT_DOMAIN
    _check_path(text, path)
    if domain == DEFAULT_DOMAIN and "/" not in path:
        path = OFFICIAL_REPO_PREFIX + path
    return domain, path


def _check_path(text: str, path: str) -> None:
    if not path:
        raise _fail(text, "repository name is empty")
    for component in path.split("/"):
        if not component:
            raise _fail(text, "repository name has an empty path component")
        if component.lower() != component:
            raise _fail(text, f"repository name {path!r} must be lowercase")
        if not _is_path_component(component):
            raise _fail(
                text,
                f"bad repository path component {component!r}: use lowercase letters and "
                "digits, separated by '.', '_', '__' or dashes",
            )
