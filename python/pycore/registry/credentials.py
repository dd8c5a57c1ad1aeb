"""Registry credentials in a Docker-compatible `config.json`: the `auths` map, `credsStore` and
`credHelpers` (which run `docker-credential-<name> get|store|erase`, the protocol of
docker/docker-credential-helpers). Written by `pycore login`, read by pull and push."""

from __future__ import annotations

import base64
import binascii
import json
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pycore.errors import RegistryError, UsageError
from pycore.store import atomic
from pycore.structs import struct

DOCKER_HUB = "docker.io"
# The key Docker has always used for Docker Hub in config.json and with credential helpers.
DOCKER_HUB_KEY = "https://index.docker.io/v1/"
_HUB_ALIASES = frozenset(
    {"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}
)
_HELPER_TIMEOUT = 30.0


@struct(frozen=True, slots=True)
class Credentials:
    """A user name and password, or an identity (refresh) token from a helper or config."""

    username: str
    password: str
    identity_token: str | None = None

    def __repr__(self) -> str:  # never print secrets in tracebacks or logs
        return f"Credentials(username={self.username!r}, password=***)"


def normalize_server(server: str) -> str:
    """The registry host (`name[:port]`) a login server argument or a config key stands for:
    `https://127.0.0.1:5000/v2/` -> `127.0.0.1:5000`, `https://index.docker.io/v1/` ->
    `docker.io`."""
    text = server.strip()
    host = urlsplit(text).netloc if "://" in text else text.split("/", 1)[0]
    host = host.lower()
    if not host:
        raise UsageError(f"invalid registry server {server!r}")
    return DOCKER_HUB if host in _HUB_ALIASES else host


def config_key(registry: str) -> str:
    """The key `registry` (a normalized host) has in config.json and for credential helpers."""
    return DOCKER_HUB_KEY if registry == DOCKER_HUB else registry


class AuthFile:
    """One Docker-compatible config.json. A missing file means no credentials; it is only ever
    replaced whole (mode 0600, by rename), so readers never see half of one."""

    def __init__(self, path: Path | None) -> None:
        self.path = path

    def _load(self) -> dict[str, Any]:
        if self.path is None:
            return {}
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as e:
            raise RegistryError(f"cannot read credentials file {self.path}: {e.strerror}") from e
        try:
            doc = json.loads(raw) if raw.strip() else {}
        except ValueError as e:
            raise RegistryError(f"credentials file {self.path} is not valid JSON ({e})") from e
        if not isinstance(doc, dict):
            raise RegistryError(f"credentials file {self.path} is not a JSON object")
        return doc

    def _save(self, doc: dict[str, Any]) -> None:
        assert self.path is not None
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        atomic.write_bytes(self.path, (json.dumps(doc, indent="\t") + "\n").encode(), mode=0o600)

    def _helper(self, doc: dict[str, Any], registry: str) -> str | None:
        helpers = doc.get("credHelpers")
        if isinstance(helpers, dict):
            for key, name in helpers.items():
                if isinstance(key, str) and normalize_server(key) == registry and name:
                    return str(name)
        store = doc.get("credsStore")
        return str(store) if isinstance(store, str) and store else None

    def get(self, registry: str) -> Credentials | None:
        """Credentials for the registry host `registry`, or None (anonymous)."""
        registry = normalize_server(registry)
        doc = self._load()
        helper = self._helper(doc, registry)
        if helper is not None:
            creds = helper_get(helper, config_key(registry))
            if creds is not None:
                return creds
        auths = doc.get("auths")
        if not isinstance(auths, dict):
            return None
        for key, entry in auths.items():
            if (
                isinstance(key, str)
                and isinstance(entry, dict)
                and normalize_server(key) == registry
            ):
                return _from_entry(entry, self.path)
        return None

    def store(self, registry: str, creds: Credentials) -> None:
        """Save credentials for `registry`: with its helper if one is configured, else in the
        file (base64 `auth`, as Docker writes it)."""
        if self.path is None:
            raise RegistryError("no credentials file configured")
        registry = normalize_server(registry)
        doc = self._load()
        key = config_key(registry)
        auths = doc.get("auths") if isinstance(doc.get("auths"), dict) else {}
        assert isinstance(auths, dict)
        for k in [k for k in auths if isinstance(k, str) and normalize_server(k) == registry]:
            del auths[k]
        helper = self._helper(doc, registry)
        if helper is not None:
            helper_store(helper, key, creds)
            auths[key] = {}
        else:
            raw = f"{creds.username}:{creds.password}".encode()
            auths[key] = {"auth": base64.b64encode(raw).decode()}
        doc["auths"] = auths
        self._save(doc)

    def erase(self, registry: str) -> bool:
        """Forget the credentials for `registry`; False when there were none."""
        if self.path is None:
            return False
        registry = normalize_server(registry)
        doc = self._load()
        found = False
        helper = self._helper(doc, registry)
        if helper is not None:
            found = helper_erase(helper, config_key(registry))
        auths = doc.get("auths")
        if isinstance(auths, dict):
            keys = [k for k in auths if isinstance(k, str) and normalize_server(k) == registry]
            for k in keys:
                del auths[k]
            if keys:
                found = True
                self._save(doc)
        return found


def _from_entry(entry: dict[str, Any], path: Path | None) -> Credentials | None:
    token = entry.get("identitytoken")
    identity = token if isinstance(token, str) and token else None
    auth = entry.get("auth")
    if isinstance(auth, str) and auth:
        try:
            user, sep, password = base64.b64decode(auth, validate=False).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError) as e:
            raise RegistryError(f"credentials file {path}: bad 'auth' value") from e
        if not sep:
            raise RegistryError(f"credentials file {path}: 'auth' is not user:password")
        return Credentials(user, password, identity)
    name, secret = entry.get("username"), entry.get("password")
    if isinstance(name, str) and isinstance(secret, str) and name:
        return Credentials(name, secret, identity)
    if identity:
        return Credentials("", "", identity)
    return None


# -- credential helpers (docker-credential-helpers protocol) ---------------------------------


def _run_helper(name: str, action: str, stdin: bytes) -> subprocess.CompletedProcess[bytes]:
    program = f"docker-credential-{name}"
    try:
        return subprocess.run(
            [program, action],
            input=stdin,
            capture_output=True,
            timeout=_HELPER_TIMEOUT,
            check=False,
        )
    except FileNotFoundError:
        raise RegistryError(f"credential helper {program} not found in PATH") from None
    except subprocess.TimeoutExpired:
        raise RegistryError(f"credential helper {program} did not answer in time") from None


def _not_found(out: bytes) -> bool:
    return b"credentials not found" in out.lower()


def helper_get(name: str, server: str) -> Credentials | None:
    """`docker-credential-<name> get`: None when the helper has nothing for `server`."""
    res = _run_helper(name, "get", server.encode())
    if res.returncode != 0:
        if _not_found(res.stdout + res.stderr):
            return None
        msg = (res.stdout or res.stderr).decode(errors="replace").strip()
        raise RegistryError(f"credential helper docker-credential-{name} failed: {msg}")
    try:
        doc = json.loads(res.stdout)
        user, secret = str(doc.get("Username", "")), str(doc.get("Secret", ""))
    except (ValueError, AttributeError) as e:
        raise RegistryError(f"credential helper docker-credential-{name} sent bad JSON") from e
    if user == "<token>":  # the helpers' convention for an identity token
        return Credentials("", "", secret)
    return Credentials(user, secret) if user or secret else None


def helper_store(name: str, server: str, creds: Credentials) -> None:
    doc = {"ServerURL": server, "Username": creds.username, "Secret": creds.password}
    res = _run_helper(name, "store", json.dumps(doc).encode())
    if res.returncode != 0:
        msg = (res.stdout or res.stderr).decode(errors="replace").strip()
        raise RegistryError(f"credential helper docker-credential-{name} failed: {msg}")


def helper_erase(name: str, server: str) -> bool:
    res = _run_helper(name, "erase", server.encode())
    if res.returncode != 0:
        if _not_found(res.stdout + res.stderr):
            return False
        msg = (res.stdout or res.stderr).decode(errors="replace").strip()
        raise RegistryError(f"credential helper docker-credential-{name} failed: {msg}")
    return True
