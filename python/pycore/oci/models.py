"""Descriptors, manifests, indexes and image configs (OCI image-spec v1.1), as frozen values.

`parse_*` functions take the raw JSON bytes and raise ArchiveError-free `InvalidDocument` with
a one-line reason; `to_json()` gives the canonical bytes pycore writes (and hashes).
"""

from __future__ import annotations

from pycore import jsonio
from pycore.digest import Digest
from pycore.errors import InvalidDigest, PycoreError
from pycore.oci import mediatypes as mt
from pycore.structs import field, struct

TYPE_CHECKING = False  # not typing's: importing typing costs every CLI start
if TYPE_CHECKING:
    from typing import Any


class InvalidDocument(PycoreError):
    """A manifest, index or config that does not follow the image spec."""


def _obj(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidDocument(f"{what}: expected a JSON object")
    return value


def _str(d: dict[str, Any], key: str, what: str, default: str | None = None) -> str:
    v = d.get(key, default)
    if not isinstance(v, str):
        raise InvalidDocument(f"{what}: field {key!r} must be a string")
    return v


def _int(d: dict[str, Any], key: str, what: str) -> int:
    v = d.get(key)
    if not isinstance(v, int) or isinstance(v, bool) or v < 0:
        raise InvalidDocument(f"{what}: field {key!r} must be a non-negative integer")
    return v


def _str_map(v: Any, what: str) -> dict[str, str]:
    if v is None:
        return {}
    if not isinstance(v, dict) or not all(
        isinstance(k, str) and isinstance(x, str) for k, x in v.items()
    ):
        raise InvalidDocument(f"{what}: expected a map of strings")
    return dict(v)


def _digest(d: dict[str, Any], key: str, what: str) -> Digest:
    try:
        return Digest.parse(_str(d, key, what))
    except InvalidDigest as e:
        raise InvalidDocument(f"{what}: {e}") from e


def load_json(data: bytes, what: str) -> dict[str, Any]:
    """Decode a JSON object, raising InvalidDocument (never a traceback) on bad input."""
    try:
        value = jsonio.loads(data)
    except (ValueError, UnicodeDecodeError):
        value = _load_json_slowly(data, what)
    return _obj(value, what)


def _load_json_slowly(data: bytes, what: str) -> Any:
    """`json.loads`, for what the start path's decoder refuses: a UTF-16/32 or BOM-prefixed
    document, which json's encoding detection reads, and the error message for bad input."""
    import json

    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise InvalidDocument(f"{what}: not valid JSON ({e})") from e


def dump_json(value: dict[str, Any]) -> bytes:
    """The canonical bytes pycore writes for a document: compact, keys in model order."""
    return jsonio.dumps(value, ensure_ascii=False).encode()


@struct(frozen=True, slots=True)
class Platform:
    os: str
    architecture: str
    variant: str | None = None
    os_version: str | None = None

    @classmethod
    def from_json(cls, d: dict[str, Any], what: str = "platform") -> Platform:
        variant = d.get("variant")
        osv = d.get("os.version")
        return cls(
            os=_str(d, "os", what),
            architecture=_str(d, "architecture", what),
            variant=variant if isinstance(variant, str) else None,
            os_version=osv if isinstance(osv, str) else None,
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"architecture": self.architecture, "os": self.os}
        if self.os_version:
            out["os.version"] = self.os_version
        if self.variant:
            out["variant"] = self.variant
        return out

    def __str__(self) -> str:
        base = f"{self.os}/{self.architecture}"
        return f"{base}/{self.variant}" if self.variant else base


@struct(frozen=True, slots=True)
class Descriptor:
    media_type: str
    digest: Digest
    size: int
    annotations: dict[str, str] = field(default_factory=dict)
    platform: Platform | None = None
    urls: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, value: Any, what: str = "descriptor") -> Descriptor:
        d = _obj(value, what)
        plat = d.get("platform")
        urls = d.get("urls") or []
        return cls(
            media_type=_str(d, "mediaType", what),
            digest=_digest(d, "digest", what),
            size=_int(d, "size", what),
            annotations=_str_map(d.get("annotations"), what),
            platform=Platform.from_json(_obj(plat, what), what) if plat is not None else None,
            urls=tuple(str(u) for u in urls) if isinstance(urls, list) else (),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "mediaType": self.media_type,
            "digest": str(self.digest),
            "size": self.size,
        }
        if self.urls:
            out["urls"] = list(self.urls)
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        if self.platform is not None:
            out["platform"] = self.platform.to_json()
        return out


@struct(frozen=True, slots=True)
class Manifest:
    """An image manifest: one config and an ordered list of layers (base first)."""

    config: Descriptor
    layers: tuple[Descriptor, ...]
    media_type: str = mt.OCI_MANIFEST
    annotations: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, data: bytes, what: str = "manifest") -> Manifest:
        d = load_json(data, what)
        if d.get("schemaVersion") != 2:
            raise InvalidDocument(f"{what}: unsupported schemaVersion {d.get('schemaVersion')!r}")
        media_type = d.get("mediaType", mt.OCI_MANIFEST)
        if media_type not in mt.MANIFESTS:
            raise InvalidDocument(f"{what}: unsupported media type {media_type!r}")
        layers = d.get("layers")
        if not isinstance(layers, list):
            raise InvalidDocument(f"{what}: field 'layers' must be a list")
        return cls(
            config=Descriptor.from_json(d.get("config"), f"{what} config"),
            layers=tuple(Descriptor.from_json(x, f"{what} layer") for x in layers),
            media_type=media_type,
            annotations=_str_map(d.get("annotations"), what),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": self.media_type,
            "config": self.config.to_json(),
            "layers": [x.to_json() for x in self.layers],
        }
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        return out

    def to_bytes(self) -> bytes:
        return dump_json(self.to_json())


@struct(frozen=True, slots=True)
class Index:
    """An image index (or Docker manifest list): manifests, usually one per platform."""

    manifests: tuple[Descriptor, ...]
    media_type: str = mt.OCI_INDEX
    annotations: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, data: bytes, what: str = "index") -> Index:
        d = load_json(data, what)
        if d.get("schemaVersion") != 2:
            raise InvalidDocument(f"{what}: unsupported schemaVersion {d.get('schemaVersion')!r}")
        media_type = d.get("mediaType", mt.OCI_INDEX)
        if media_type not in mt.INDEXES:
            raise InvalidDocument(f"{what}: unsupported media type {media_type!r}")
        manifests = d.get("manifests")
        if not isinstance(manifests, list):
            raise InvalidDocument(f"{what}: field 'manifests' must be a list")
        return cls(
            manifests=tuple(Descriptor.from_json(x, f"{what} entry") for x in manifests),
            media_type=media_type,
            annotations=_str_map(d.get("annotations"), what),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": self.media_type,
            "manifests": [x.to_json() for x in self.manifests],
        }
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        return out

    def to_bytes(self) -> bytes:
        return dump_json(self.to_json())


@struct(frozen=True, slots=True)
class ImageConfig:
    """An image configuration. `raw` keeps every field (Docker adds its own) so that a config
    pycore stores hashes to the digest it arrived with; typed accessors read from it."""

    raw: dict[str, Any]

    @classmethod
    def parse(cls, data: bytes, what: str = "image config") -> ImageConfig:
        d = load_json(data, what)
        _str(d, "architecture", what)
        _str(d, "os", what)
        rootfs = _obj(d.get("rootfs"), f"{what} rootfs")
        if rootfs.get("type") != "layers":
            raise InvalidDocument(f"{what}: rootfs.type must be 'layers'")
        ids = rootfs.get("diff_ids")
        if not isinstance(ids, list):
            raise InvalidDocument(f"{what}: rootfs.diff_ids must be a list")
        for x in ids:
            if not isinstance(x, str):
                raise InvalidDocument(f"{what}: rootfs.diff_ids must hold strings")
            try:
                Digest.parse(x)
            except InvalidDigest as e:
                raise InvalidDocument(f"{what}: {e}") from e
        cfg = d.get("config")
        if cfg is not None:
            _obj(cfg, f"{what} config")
        return cls(d)

    @classmethod
    def new(
        cls,
        diff_ids: list[Digest],
        *,
        architecture: str,
        os: str = "linux",
        config: dict[str, Any] | None = None,
        created: str | None = None,
        history: list[dict[str, Any]] | None = None,
    ) -> ImageConfig:
        raw: dict[str, Any] = {}
        if created:
            raw["created"] = created
        raw["architecture"] = architecture
        raw["os"] = os
        raw["config"] = config or {}
        raw["rootfs"] = {"type": "layers", "diff_ids": [str(x) for x in diff_ids]}
        if history:
            raw["history"] = history
        return cls(raw)

    @property
    def diff_ids(self) -> tuple[Digest, ...]:
        return tuple(Digest.parse(x) for x in self.raw["rootfs"]["diff_ids"])

    @property
    def architecture(self) -> str:
        return str(self.raw["architecture"])

    @property
    def os(self) -> str:
        return str(self.raw["os"])

    @property
    def variant(self) -> str | None:
        v = self.raw.get("variant")
        return v if isinstance(v, str) else None

    @property
    def created(self) -> str | None:
        v = self.raw.get("created")
        return v if isinstance(v, str) else None

    @property
    def container_config(self) -> dict[str, Any]:
        """The `config` object (Cmd, Entrypoint, Env, WorkingDir, User, ...), possibly empty."""
        v = self.raw.get("config")
        return dict(v) if isinstance(v, dict) else {}

    @property
    def history(self) -> list[dict[str, Any]]:
        v = self.raw.get("history")
        return [h for h in v if isinstance(h, dict)] if isinstance(v, list) else []

    def to_bytes(self) -> bytes:
        return dump_json(self.raw)
