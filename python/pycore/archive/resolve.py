"""Which stored image a name or id given to `save` means, and under which name to save it."""

from __future__ import annotations

import re

from pycore.errors import ImageNotFound, InvalidReference, UsageError
from pycore.reference import Reference
from pycore.store.index import ImageRecord
from pycore.store.store import Store

_ID = re.compile(r"(?:sha256:)?([0-9a-f]{1,64})")


def resolve(store: Store, text: str) -> tuple[ImageRecord, tuple[str, ...]]:
    """The image `text` names and the names to record for it: the reference itself, or none
    when `text` is an id (or id prefix) or pinned by digest. Raises ImageNotFound."""
    index = store.read_index()
    try:
        ref = Reference.parse(text)
    except InvalidReference:
        ref = None
    if ref is not None:
        if ref.digest is not None:
            found = index.by_manifest(ref.digest)
            if found is not None:
                return found, ()
        else:
            found = index.by_name(str(ref))
            if found is not None:
                return found, (str(ref),)
    m = _ID.fullmatch(text)
    if m:
        prefix = m.group(1)
        hits = {
            r.manifest: r
            for r in index.images
            if r.config.hex.startswith(prefix) or r.manifest.hex.startswith(prefix)
        }
        if len(hits) > 1:
            raise UsageError(f"image id prefix {text!r} is ambiguous")
        if hits:
            return next(iter(hits.values())), ()
    raise ImageNotFound(f"No such image: {text}")
