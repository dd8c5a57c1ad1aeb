"""Validate documents pycore writes against the OCI schemas in shared/conformance, offline.

The schemas are draft-04 and refer to each other by `id` URLs under opencontainers.org; every
such URL is mapped to the local file with the same name, so nothing is fetched.

    from tests.helpers.schemas import validate
    validate("image-manifest-schema.json", manifest_dict)   # raises jsonschema.ValidationError
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from jsonschema import Draft4Validator, FormatChecker  # type: ignore[import-untyped]
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4


def conformance_dir() -> Path:
    """`shared/conformance` next to the repository (`$PYCORE_CONFORMANCE` overrides)."""
    env = os.environ.get("PYCORE_CONFORMANCE")
    if env:
        return Path(env)
    repo = Path(__file__).resolve().parents[2]
    for candidate in (repo.parent / "shared" / "conformance", Path("/work/shared/conformance")):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("shared/conformance not found; set PYCORE_CONFORMANCE")


IMAGE_SPEC = "image-spec"
MANIFEST = "image-manifest-schema.json"
CONFIG = "config-schema.json"
INDEX = "image-index-schema.json"
LAYOUT = "image-layout-schema.json"
DESCRIPTOR = "content-descriptor.json"


def _load(spec: str, name: str) -> dict[str, Any]:
    value = json.loads((conformance_dir() / spec / name).read_text())
    assert isinstance(value, dict)
    return value


@cache
def _registry(spec: str) -> Registry[Any]:
    def retrieve(uri: str) -> Resource[Any]:
        name = Path(urlparse(uri).path).name
        if not name.endswith(".json"):
            name += ".json"
        return DRAFT4.create_resource(_load(spec, name))

    return Registry(retrieve=retrieve)  # type: ignore[call-arg]


@cache
def validator(name: str, spec: str = IMAGE_SPEC) -> Draft4Validator:
    """A draft-04 validator for the schema file `name` of `spec`, with offline `$ref`s."""
    schema = _load(spec, name)
    return Draft4Validator(schema, registry=_registry(spec), format_checker=FormatChecker())


def validate(name: str, document: dict[str, Any] | bytes, spec: str = IMAGE_SPEC) -> None:
    """Raise jsonschema.ValidationError unless `document` (a dict or JSON bytes) is valid."""
    value = json.loads(document) if isinstance(document, bytes) else document
    validator(name, spec).validate(value)
