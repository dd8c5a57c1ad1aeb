"""Which stored image a name or id given to `save` means, and under which name to save it."""

from __future__ import annotations

from pycore.errors import InvalidReference
from pycore.image import ImageService
from pycore.reference import Reference
from pycore.store.index import ImageRecord
from pycore.store.store import Store


def resolve(store: Store, text: str) -> tuple[ImageRecord, tuple[str, ...]]:
    """The image `text` names (see `ImageService.get`) and the names to record for it: the
    reference itself when it matched by name, none for an id, id prefix or digest.

    Raises ImageNotFound, InvalidReference, UsageError (ambiguous id)."""
    image = ImageService(store).get(text)
    try:
        ref = Reference.parse(text)
    except InvalidReference:
        return image.record, ()
    if ref.digest is None and str(ref) in image.record.names:
        return image.record, (str(ref),)
    return image.record, ()
