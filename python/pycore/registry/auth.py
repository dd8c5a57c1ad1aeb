"""Registry authorization: `WWW-Authenticate` challenges (Basic, Bearer token per the
distribution token spec), a per-scope token cache, and credentials looked up in a
Docker-compatible config.json or through `docker-credential-<helper>` programs."""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from urllib.parse import urlencode, urlsplit

from pycore.errors import RegistryError, RegistryUnauthorized
from pycore.registry.credentials import Credentials
from pycore.registry.http import Response, Transport
from pycore.structs import field, struct

_PARAM = re.compile(r'\s*([A-Za-z0-9_.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))\s*,?')
_DEFAULT_TOKEN_LIFETIME = 60.0
_TOKEN_SLACK = 10.0  # renew this many seconds before a token expires


@struct(frozen=True, slots=True)
class Challenge:
    """One challenge of a `WWW-Authenticate` header: `Bearer realm="...",service="..."`."""

    scheme: str  # lower case: "basic", "bearer"
    params: dict[str, str] = field(default_factory=dict)


def parse_challenges(values: list[str]) -> list[Challenge]:
    """Parse `WWW-Authenticate` header values (RFC 7235) into challenges, in order."""
    out: list[Challenge] = []
    for value in values:
        rest = value.strip()
        while rest:
            m = re.match(r"([A-Za-z][A-Za-z0-9_-]*)\s*", rest)
            if not m:
                break
            scheme = m.group(1).lower()
            rest = rest[m.end() :]
            params: dict[str, str] = {}
            while True:
                pm = _PARAM.match(rest)
                if not pm or (pm.group(2) is None and pm.group(3) is None):
                    break
                quoted = pm.group(2)
                params[pm.group(1).lower()] = (
                    re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else pm.group(3)
                )
                rest = rest[pm.end() :]
            out.append(Challenge(scheme, params))
            rest = rest.lstrip(", ")
    return out


def pull_scope(repo: str) -> str:
    return f"repository:{repo}:pull"


def push_scope(repo: str) -> str:
    return f"repository:{repo}:pull,push"


class Authorizer:
    """What one registry wants from us: learnt from its first 401, then applied to every
    request. Bearer tokens are cached per set of scopes until shortly before they expire."""

    def __init__(self, transport: Transport, registry: str, credentials: Credentials | None):
        self._transport = transport
        self.registry = registry
        self.credentials = credentials
        self._challenge: Challenge | None = None
        self._tokens: dict[tuple[str, ...], tuple[str, float]] = {}
        self._lock = threading.Lock()
        self._fetch_lock = threading.Lock()

    def header(self, scopes: tuple[str, ...]) -> str | None:
        """The Authorization header for a request needing `scopes`, fetching a token if the
        registry is known to want one and none is cached."""
        ch = self._challenge
        if ch is None:
            return None
        if ch.scheme == "basic":
            return self._basic() if self.credentials else None
        if ch.scheme == "bearer":
            return f"Bearer {self._token(scopes, refused=None)}"
        return None

    def learn(self, resp: Response, scopes: tuple[str, ...], sent: str | None) -> bool:
        """Take in a 401 answer to a request that carried `sent`; True when a retry with
        `header(scopes)` may now succeed."""
        challenges = parse_challenges(resp.header_all("WWW-Authenticate"))
        usable = [c for c in challenges if c.scheme in ("bearer", "basic")]
        if not usable:
            return False
        ch = next((c for c in usable if c.scheme == "bearer"), usable[0])
        with self._lock:
            self._challenge = ch
        if ch.scheme == "basic":
            return self.credentials is not None and sent is None
        if ch.scheme == "bearer" and "realm" in ch.params:
            refused = sent.removeprefix("Bearer ") if sent else None
            return f"Bearer {self._token(scopes, refused=refused)}" != sent
        return False

    def unauthorized(self, what: str) -> RegistryUnauthorized:
        how = "the credentials were refused" if self.credentials else "authentication required"
        return RegistryUnauthorized(
            f"{what}: unauthorized: {how}; run 'pycore login {self.registry}'"
        )

    def _basic(self) -> str:
        assert self.credentials is not None
        raw = f"{self.credentials.username}:{self.credentials.password}".encode()
        return "Basic " + base64.b64encode(raw).decode()

    def _token(self, scopes: tuple[str, ...], *, refused: str | None) -> str:
        """A token for `scopes`: the cached one unless it is `refused` or about to expire.
        Fetches are serialized, so parallel transfers that all met the same 401 share one
        new token instead of each asking the token server."""
        key = tuple(sorted(set(scopes)))
        with self._fetch_lock:
            now = time.monotonic()
            cached = self._tokens.get(key)
            if cached is not None and cached[0] != refused and cached[1] - _TOKEN_SLACK > now:
                return cached[0]
            token, lifetime = self._fetch_token(key)
            self._tokens[key] = (token, now + lifetime)
            return token

    def _fetch_token(self, scopes: tuple[str, ...]) -> tuple[str, float]:
        ch = self._challenge
        assert ch is not None
        realm = ch.params["realm"]
        service = ch.params.get("service")
        creds = self.credentials
        if creds is not None and creds.identity_token:
            # OAuth2 refresh-token grant (distribution's token spec, `oauth.md`).
            form: dict[str, str] = {
                "grant_type": "refresh_token",
                "refresh_token": creds.identity_token,
                "client_id": "pycore",
            }
            if service:
                form["service"] = service
            if scopes:
                form["scope"] = " ".join(scopes)
            resp = self._transport.request(
                "POST",
                realm,
                headers={"Content-Type": "application/x-www-form-urlencoded"},
                body=urlencode(form).encode(),
            )
        else:
            query: list[tuple[str, str]] = []
            if service:
                query.append(("service", service))
            query.extend(("scope", s) for s in scopes)
            url = realm + ("&" if "?" in realm else "?") + urlencode(query) if query else realm
            headers = {"Authorization": self._basic()} if creds else {}
            resp = self._transport.request("GET", url, headers=headers)
        body = resp.read_all(1 << 20)
        token_host = urlsplit(realm).netloc
        if resp.status in (401, 403):
            raise self.unauthorized(f"registry {self.registry} (token server {token_host})")
        if resp.status != 200:
            raise RegistryError(
                f"registry {self.registry}: token server {token_host} answered "
                f"{resp.status} {resp.reason}"
            )
        try:
            doc = json.loads(body)
            token = doc.get("token") or doc.get("access_token")
            lifetime = float(doc.get("expires_in") or _DEFAULT_TOKEN_LIFETIME)
        except (ValueError, AttributeError, TypeError) as e:
            raise RegistryError(
                f"registry {self.registry}: token server {token_host} sent a bad answer"
            ) from e
        if not isinstance(token, str) or not token:
            raise RegistryError(
                f"registry {self.registry}: token server {token_host} sent no token"
            )
        return token, lifetime
