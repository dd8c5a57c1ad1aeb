"""What a reader learnt from an archive: per image, its manifest, the archive files holding its
blobs, and its names. Loading verifies every plan before anything enters the store."""

from __future__ import annotations

from pycore.archive.bundle import Bundle, named_digest
from pycore.digest import Digest
from pycore.errors import ArchiveError, InvalidReference
from pycore.oci.models import InvalidDocument
from pycore.reference import Reference
from pycore.structs import struct


@struct(frozen=True, slots=True)
class BlobSource:
    """A blob the image needs and the archive member that holds it."""

    digest: Digest
    size: int
    member: str


@struct(frozen=True, slots=True)
class ImagePlan:
    manifest: bytes  # stored as given: its digest is the image's manifest digest
    config: Digest
    blobs: tuple[BlobSource, ...]  # config and layers
    names: tuple[str, ...]  # fully qualified references

    def with_names(self, more: tuple[str, ...]) -> ImagePlan:
        return ImagePlan(
            self.manifest, self.config, self.blobs, tuple(dict.fromkeys((*self.names, *more)))
        )


def check_member(bundle: Bundle, member: str, digest: Digest, size: int | None = None) -> None:
    """Refuse a member whose content does not hash to `digest` (or has the wrong size)."""
    entry = bundle.entry(member)
    if size is not None and entry.size != size:
        raise ArchiveError(
            f"{bundle.description}: {member}: size mismatch: expected {size}, got {entry.size}"
        )
    actual = bundle.digest(member)
    if actual != digest:
        raise ArchiveError(
            f"{bundle.description}: {member}: digest mismatch: expected {digest}, got {actual}"
        )


def check_named(bundle: Bundle, member: str) -> Digest:
    """The member's digest, checked against the one its name promises (`blobs/sha256/<hex>`)."""
    promised = named_digest(member)
    if promised is not None:
        check_member(bundle, member, promised)
    return bundle.digest(member)


def parse_name(text: str, what: str) -> str:
    """A name from an archive as a fully qualified reference."""
    try:
        return str(Reference.parse(text))
    except InvalidReference as e:
        raise ArchiveError(f"{what}: {e}") from e


def document_error(what: str, e: InvalidDocument) -> ArchiveError:
    return ArchiveError(f"{what}: {e}")
