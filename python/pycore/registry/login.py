"""`login` and `logout`: check credentials against a registry, then keep or forget them in the
Docker-compatible config.json (or the credential helper it names)."""

from __future__ import annotations

from pycore.errors import RegistryUnauthorized, UsageError
from pycore.registry.client import RegistryClient, RegistryOptions
from pycore.registry.credentials import AuthFile, Credentials, normalize_server


def login(options: RegistryOptions, server: str, username: str, password: str) -> str:
    """Verify `username`/`password` with the registry `server` (`GET /v2/`, answering its
    Basic or Bearer challenge) and store them; returns the normalized registry host.

    Raises UsageError for empty credentials, RegistryUnauthorized when refused, other
    RegistryError leaves when the registry cannot be reached."""
    if not username or not password:
        raise UsageError("login needs a user name and a password")
    registry = normalize_server(server)
    creds = Credentials(username, password)
    with RegistryClient(registry, options, credentials=creds) as client:
        try:
            client.ping()
        except RegistryUnauthorized as e:
            raise RegistryUnauthorized(
                f"login to {registry} failed: unauthorized: incorrect username or password"
            ) from e
    AuthFile(options.auth_file).store(registry, creds)
    return registry


def logout(options: RegistryOptions, server: str) -> tuple[str, bool]:
    """Forget the credentials for `server`; returns the registry host and whether any were
    stored."""
    registry = normalize_server(server)
    return registry, AuthFile(options.auth_file).erase(registry)
