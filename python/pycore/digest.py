"""The digest value type: `algorithm:hex`, validated once at the edge (image-spec descriptor.md)."""

from __future__ import annotations

import re

from pycore.errors import InvalidDigest
from pycore.structs import struct

_HEX_LEN = {"sha256": 64, "sha512": 128}
_GRAMMAR = re.compile(r"^([a-z0-9]+(?:[+._-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$")


@struct(frozen=True, slots=True, order=True)
class Digest:
    """A content digest such as `sha256:9f86d0...`; `str()` gives the canonical form."""

    algorithm: str
    hex: str

    @classmethod
    def parse(cls, text: str) -> Digest:
        """Parse `algorithm:hex`; raises InvalidDigest naming what is wrong."""
        m = _GRAMMAR.match(text)
        if not m:
            raise InvalidDigest(f"invalid digest {text!r}: expected algorithm:hex")
        algorithm, value = m.group(1), m.group(2)
        want = _HEX_LEN.get(algorithm)
        if want is None:
            raise InvalidDigest(f"invalid digest {text!r}: unsupported algorithm {algorithm!r}")
        if len(value) != want or not re.fullmatch(r"[0-9a-f]+", value):
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
