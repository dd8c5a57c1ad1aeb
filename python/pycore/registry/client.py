"""The distribution API (OCI distribution-spec v1.1) for one registry: manifests, blobs,
uploads and mounts, with authorization applied and registry errors turned into one-line
`RegistryError`s that name the registry and the reason."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from urllib.parse import quote, urlencode, urljoin, urlsplit

from pycore.digest import Digest
from pycore.errors import (
    InvalidDigest,
    InvalidManifest,
    RateLimited,
    RegistryDigestMismatch,
    RegistryError,
    RegistryNotFound,
    RegistryUnauthorized,
    UnsupportedMediaType,
)
from pycore.oci import mediatypes as mt
from pycore.registry.auth import Authorizer, pull_scope, push_scope
from pycore.registry.credentials import DOCKER_HUB, AuthFile, Credentials
from pycore.registry.http import Body, FileBody, HttpOptions, Response, Transport
from pycore.settings import Settings
from pycore.structs import struct

MANIFEST_ACCEPT = ", ".join(
    (mt.OCI_INDEX, mt.OCI_MANIFEST, mt.DOCKER_MANIFEST_LIST, mt.DOCKER_MANIFEST)
)
MAX_MANIFEST = 4 << 20  # distribution's own limit on manifest size
_SCHEMA1 = frozenset(
    {
        "application/vnd.docker.distribution.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
    }
)
_DOCKER_HUB_API = "registry-1.docker.io"


@struct(frozen=True, slots=True)
class RegistryOptions:
    """Everything the registry client needs from the settings, as one frozen value."""

    http: HttpOptions
    auth_file: Path | None = None
    parallel: int = 3  # blobs transferred at once, as Docker's max-concurrent-downloads
    chunk_threshold: int = 64 << 20  # blobs larger than this are pushed in PATCH chunks
    chunk_size: int = 16 << 20

    @classmethod
    def from_settings(cls, settings: Settings) -> RegistryOptions:
        return cls(
            http=HttpOptions(
                certs_dir=Path(settings.certs_dir),
                insecure=settings.insecure_registries,
                timeout=settings.registry_timeout,
            ),
            auth_file=Path(settings.auth_file) if settings.auth_file else None,
        )


@struct(frozen=True, slots=True)
class FetchedManifest:
    """A manifest or index exactly as served, with its digest and kind."""

    data: bytes
    media_type: str
    digest: Digest

    @property
    def is_index(self) -> bool:
        return self.media_type in mt.INDEXES


class RegistryClient:
    """One registry (`docker.io`, `127.0.0.1:5000`): thread-safe, shares connections and tokens
    between the parallel transfers of one pull or push."""

    def __init__(
        self,
        registry: str,
        options: RegistryOptions,
        *,
        credentials: Credentials | None = None,
        anonymous: bool = False,
    ) -> None:
        self.registry = registry
        self.options = options
        self.api_host = _DOCKER_HUB_API if registry == DOCKER_HUB else registry
        self.transport = Transport(options.http)
        if credentials is None and not anonymous:
            credentials = AuthFile(options.auth_file).get(registry)
        self.auth = Authorizer(self.transport, registry, credentials)

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing --------------------------------------------------------------------------

    def url(self, path: str) -> str:
        return self.transport.base_url(self.api_host) + path

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        scopes: tuple[str, ...],
        what: str,
        headers: dict[str, str] | None = None,
        body: Body = None,
    ) -> Response:
        """Send a request with authorization; a 401 is answered once (token or Basic) and
        retried, a second one raises RegistryUnauthorized naming `what`."""
        url = path_or_url if "://" in path_or_url else self.url(path_or_url)
        for attempt in range(2):
            auth = self.auth.header(scopes)
            hdrs = dict(headers or {})
            if auth:
                hdrs["Authorization"] = auth
            resp = self.transport.request(method, url, headers=hdrs, body=body)
            if resp.status != 401:
                return resp
            resp.read_all(1 << 16)
            if attempt == 0 and self.auth.learn(resp, scopes, auth):
                continue
            break
        raise self.auth.unauthorized(what)

    def fail(self, resp: Response, what: str) -> RegistryError:
        """The error for an unexpected answer; reads (and releases) the body."""
        try:
            body = resp.read_all(1 << 16)
        except RegistryError:
            body = b""
        reason = _error_text(body) or f"{resp.status} {resp.reason}".strip()
        if resp.status == 404:
            return RegistryNotFound(f"{what}: not found: {reason}")
        if resp.status == 429:
            return RateLimited(f"{what}: rate limited by the registry (429 Too Many Requests)")
        if resp.status == 403:
            return RegistryUnauthorized(
                f"{what}: access denied: {reason}; run 'pycore login {self.registry}'"
            )
        if resp.status == 415:
            return UnsupportedMediaType(f"{what}: unsupported media type: {reason}")
        return RegistryError(f"{what}: registry answered {resp.status}: {reason}")

    # -- the API ---------------------------------------------------------------------------

    def ping(self) -> None:
        """`GET /v2/`: checks reachability and, with credentials, that they are accepted."""
        what = f"login to {self.registry}"
        resp = self.request("GET", "/v2/", scopes=(), what=what)
        if resp.status != 200:
            raise self.fail(resp, what)
        resp.read_all(1 << 16)

    def get_manifest(
        self, repo: str, reference: str, *, scopes: tuple[str, ...] = ()
    ) -> FetchedManifest:
        """Fetch a manifest or index by tag or digest, checking its digest: against the
        reference when it is one, else against `Docker-Content-Digest` when the registry sent
        it. The bytes are returned exactly as served."""
        what = f"manifest for {self.registry}/{repo}{_ref_suffix(reference)}"
        resp = self.request(
            "GET",
            f"/v2/{repo}/manifests/{quote(reference, safe=':@')}",
            scopes=scopes or (pull_scope(repo),),
            what=what,
            headers={"Accept": MANIFEST_ACCEPT},
        )
        if resp.status != 200:
            raise self.fail(resp, what)
        header_digest = resp.header("Docker-Content-Digest")
        content_type = (resp.header("Content-Type") or "").split(";")[0].strip()
        data = resp.read_all(MAX_MANIFEST)
        expected = _as_digest(reference) or _as_digest(header_digest or "")
        actual = _digest_like(data, expected)
        if expected is not None and actual != expected:
            raise RegistryDigestMismatch(
                f"{what}: digest mismatch: expected {expected}, the registry sent {actual}"
            )
        media_type = manifest_media_type(data, content_type, what)
        return FetchedManifest(data, media_type, Digest.sha256_of(data))

    def blob_exists(self, repo: str, digest: Digest, *, scopes: tuple[str, ...]) -> bool:
        what = f"blob {digest} in {self.registry}/{repo}"
        resp = self.request("HEAD", f"/v2/{repo}/blobs/{digest}", scopes=scopes, what=what)
        status = resp.status
        if status in (200, 404):
            resp.read_all(0)
            return status == 200
        raise self.fail(resp, what)

    def open_blob(self, repo: str, digest: Digest, offset: int = 0) -> Response:
        """Start a blob download, from `offset` with a Range request when it is not 0. The
        answer is 200 (whole blob), 206 (from offset) or 416; anything else raises."""
        what = f"blob {digest.short} of {self.registry}/{repo}"
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        resp = self.request(
            "GET",
            f"/v2/{repo}/blobs/{digest}",
            scopes=(pull_scope(repo),),
            what=what,
            headers=headers,
        )
        if resp.status in (200, 206) or (offset and resp.status == 416):
            return resp
        raise self.fail(resp, what)

    def read_blob(self, repo: str, digest: Digest, limit: int) -> bytes:
        """A small blob (an image config) in memory, verified against its digest."""
        data = self.open_blob(repo, digest).read_all(limit)
        actual = _digest_like(data, digest)
        if actual != digest:
            raise RegistryDigestMismatch(
                f"blob {digest} from {self.registry}/{repo}: digest mismatch: the registry "
                f"sent content hashing to {actual}"
            )
        return data

    def mount_blob(self, repo: str, digest: Digest, source: str) -> str | None:
        """Ask for a cross-repository mount from `source`; None when mounted, else the
        upload location the registry opened instead (it may not know the blob there)."""
        what = f"mount of {digest.short} into {self.registry}/{repo}"
        query = urlencode({"mount": str(digest), "from": source})
        resp = self.request(
            "POST",
            f"/v2/{repo}/blobs/uploads/?{query}",
            scopes=(push_scope(repo), pull_scope(source)),
            what=what,
        )
        if resp.status == 201:
            resp.read_all(1 << 16)
            return None
        if resp.status == 202:
            return self._location(resp, what)
        raise self.fail(resp, what)

    def start_upload(self, repo: str) -> str:
        what = f"upload to {self.registry}/{repo}"
        resp = self.request(
            "POST", f"/v2/{repo}/blobs/uploads/", scopes=(push_scope(repo),), what=what
        )
        if resp.status != 202:
            raise self.fail(resp, what)
        return self._location(resp, what)

    def upload_chunk(self, repo: str, location: str, path: Path, offset: int, length: int) -> str:
        """PATCH one chunk of a chunked upload; returns the location for the next request."""
        what = f"upload to {self.registry}/{repo}"
        resp = self.request(
            "PATCH",
            location,
            scopes=(push_scope(repo),),
            what=what,
            headers={
                "Content-Type": "application/octet-stream",
                "Content-Range": f"{offset}-{offset + length - 1}",
            },
            body=FileBody(path, offset, length),
        )
        if resp.status != 202:
            raise self.fail(resp, what)
        return self._location(resp, what)

    def finish_upload(self, repo: str, location: str, digest: Digest, body: Body) -> None:
        """The closing PUT `?digest=`, with the whole blob (monolithic) or nothing (chunked)."""
        what = f"upload of {digest.short} to {self.registry}/{repo}"
        sep = "&" if "?" in location else "?"
        resp = self.request(
            "PUT",
            f"{location}{sep}{urlencode({'digest': str(digest)})}",
            scopes=(push_scope(repo),),
            what=what,
            headers={"Content-Type": "application/octet-stream"},
            body=body if body is not None else b"",
        )
        if resp.status not in (201, 204):
            raise self.fail(resp, what)
        resp.read_all(1 << 16)

    def put_manifest(self, repo: str, reference: str, data: bytes, media_type: str) -> Digest:
        """PUT a manifest by tag or digest; returns the digest the registry reports."""
        what = f"manifest {self.registry}/{repo}{_ref_suffix(reference)}"
        resp = self.request(
            "PUT",
            f"/v2/{repo}/manifests/{quote(reference, safe=':@')}",
            scopes=(push_scope(repo),),
            what=what,
            headers={"Content-Type": media_type},
            body=data,
        )
        if resp.status not in (200, 201, 202):
            raise self.fail(resp, what)
        announced = resp.header("Docker-Content-Digest")
        resp.read_all(1 << 16)
        ours = Digest.sha256_of(data)
        theirs = _as_digest(announced or "")
        if theirs is not None and theirs.algorithm == "sha256" and theirs != ours:
            raise RegistryDigestMismatch(
                f"{what}: the registry stored it as {theirs}, expected {ours}"
            )
        return ours

    def _location(self, resp: Response, what: str) -> str:
        loc = resp.header("Location")
        resp.read_all(1 << 16)
        if not loc:
            raise RegistryError(f"{what}: the registry sent no upload Location")
        # Relative locations are relative to the request URL (RFC 7231 7.1.2).
        absolute = urljoin(resp.url, loc)
        if urlsplit(absolute).scheme not in ("http", "https"):
            raise RegistryError(f"{what}: bad upload Location {loc!r}")
        return absolute


def manifest_media_type(data: bytes, content_type: str, what: str) -> str:
    """The kind of a served manifest, from its `mediaType` field, its Content-Type or its
    shape (some registries serve OCI documents as application/json). Raises InvalidManifest
    for bytes that are not a JSON object, UnsupportedMediaType for schema1 and artifacts."""
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise InvalidManifest(f"{what}: the registry sent a manifest that is not JSON ({e})") from e
    if not isinstance(doc, dict):
        raise InvalidManifest(f"{what}: the registry sent a manifest that is not a JSON object")
    declared = doc.get("mediaType")
    candidates = [x for x in (declared, content_type) if isinstance(x, str) and x]
    for media_type in candidates:
        if media_type in _SCHEMA1:
            raise UnsupportedMediaType(
                f"{what}: Docker schema1 manifests are not supported; repush the image"
            )
        if media_type in mt.MANIFESTS or media_type in mt.INDEXES:
            return media_type
    if doc.get("schemaVersion") == 1:
        raise UnsupportedMediaType(
            f"{what}: Docker schema1 manifests are not supported; repush the image"
        )
    if not isinstance(declared, str) and doc.get("schemaVersion") == 2:
        if isinstance(doc.get("manifests"), list):
            return mt.OCI_INDEX
        if isinstance(doc.get("layers"), list) and isinstance(doc.get("config"), dict):
            return mt.OCI_MANIFEST
    shown = declared if isinstance(declared, str) else content_type or "unknown"
    raise UnsupportedMediaType(f"{what}: unsupported media type {shown!r}")


def _ref_suffix(reference: str) -> str:
    return f"@{reference}" if ":" in reference else f":{reference}"


def _as_digest(text: str) -> Digest | None:
    if ":" not in text:
        return None
    try:
        return Digest.parse(text)
    except InvalidDigest:
        return None


def _digest_like(data: bytes, like: Digest | None) -> Digest:
    algorithm = like.algorithm if like is not None else "sha256"
    return Digest(algorithm, hashlib.new(algorithm, data).hexdigest())


def _error_text(body: bytes) -> str:
    """`MANIFEST_UNKNOWN: manifest unknown` from a distribution error body, or ''."""
    try:
        doc = json.loads(body)
        errs = doc.get("errors") if isinstance(doc, dict) else None
    except (ValueError, UnicodeDecodeError):
        return ""
    if not isinstance(errs, list):
        return ""
    parts = []
    for e in errs:
        if isinstance(e, dict):
            code = str(e.get("code", "")).lower().replace("_", " ")
            msg = str(e.get("message", "")).strip()
            parts.append(code if not msg or msg == code else f"{code}: {msg}")
    return "; ".join(p for p in parts if p)
