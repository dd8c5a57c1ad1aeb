"""The digest value type: `algorithm:hex`, validated once at the edge (image-spec descriptor.md)."""

from __future__ import annotations

from pycore.errors import InvalidDigest
from pycore.structs import struct

_HEX_LEN = {"sha256": 64, "sha512": 128}
# The grammar (image-spec descriptor.md), checked by hand rather than with `re`, which costs
# every CLI start milliseconds:
#   digest    := algorithm ":" encoded
#   algorithm := /[a-z0-9]+/ ( /[+._-]/ /[a-z0-9]+/ )*
#   encoded   := /[a-zA-Z0-9=_-]+/
_LOWER_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
_ALGORITHM_SEPARATORS = frozenset("+._-")
_ENCODED = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789=_-")
_HEX = frozenset("0123456789abcdef")


def _split(text: str) -> tuple[str, str] | None:
    """`(algorithm, encoded)` when `text` follows the grammar, else None. As the regex this
    replaces (`^...$` with `match`) did, one trailing newline is ignored."""
    if text.endswith("\n"):
        text = text[:-1]
    algorithm, colon, encoded = text.partition(":")
    if not colon or not encoded or not _ENCODED.issuperset(encoded):
        return None
    after_separator = True  # at the start, as after a separator, a letter or digit must follow
    for c in algorithm:
        if c in _LOWER_ALNUM:
            after_separator = False
        elif c in _ALGORITHM_SEPARATORS and not after_separator:
            after_separator = True
        else:
            return None
    return None if after_separator else (algorithm, encoded)


@struct(frozen=True, slots=True, order=True)
class Digest:
    """A content digest such as `sha256:9f86d0...`; `str()` gives the canonical form."""

    algorithm: str
    hex: str

    @classmethod
    def parse(cls, text: str) -> Digest:
        """Parse `algorithm:hex`; raises InvalidDigest naming what is wrong."""
        parts = _split(text)
        if parts is None:
            raise InvalidDigest(f"invalid digest {text!r}: expected algorithm:hex")
        algorithm, value = parts
        want = _HEX_LEN.get(algorithm)
        if want is None:
            raise InvalidDigest(f"invalid digest {text!r}: unsupported algorithm {algorithm!r}")
        if len(value) != want or not _HEX.issuperset(value):
            raise InvalidDigest(
                f"invalid digest {text!r}: {algorithm} needs {want} lowercase hex characters"
            )
        return cls(algorithm, value)

    @classmethod
    def sha256_of(cls, data: bytes) -> Digest:
        """The sha256 digest of an in-memory byte string (manifests, configs)."""
        from pycore import native  # natively: hashlib loads OpenSSL, ~3 ms of every CLI start

        return native.sha256_bytes(data)

    @property
    def short(self) -> str:
        """The first 12 hex characters, as image and container ids are shown."""
        return self.hex[:12]

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"
