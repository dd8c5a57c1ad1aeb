"""The distribution client: pull and push images over the OCI distribution API, and log in.

Usage: `pull(store, "127.0.0.1:5000/app:1", RegistryOptions.from_settings(settings))`.

Settings (read in `pycore.settings`): `PYCORE_CERTS_DIR` (default /etc/pycore/certs.d;
`<host:port>/ca.crt` trusts a CA for one registry and asks for verified TLS even on loopback,
`*.cert`+`*.key` are client certificates), `PYCORE_INSECURE_REGISTRIES` (comma-separated names
or CIDRs, replacing the default 127.0.0.0/8, ::1, localhost: TLS without verification if the
registry speaks it, else plain HTTP), `PYCORE_AUTH_FILE`, else `$DOCKER_CONFIG/config.json`,
else `~/.docker/config.json` (credentials), `PYCORE_REGISTRY_TIMEOUT` (seconds any socket
wait may take, default 30).

Partial downloads live in `<root>/downloads/<hex>` (outside the swept `tmp/`), each held by
a flock while in use; the next pull of the same blob continues it with a Range request and
verifies the digest of the whole file. `ensure_image` is the hook for `run --pull`.
"""

from __future__ import annotations

from pycore.registry.client import RegistryClient, RegistryOptions
from pycore.registry.events import Listener, TransferEvent
from pycore.registry.login import login, logout
from pycore.registry.pull import PullResult, ensure_image, parse_platform, pull
from pycore.registry.push import PushResult, push

__all__ = [
    "Listener",
    "PullResult",
    "PushResult",
    "RegistryClient",
    "RegistryOptions",
    "TransferEvent",
    "ensure_image",
    "login",
    "logout",
    "parse_platform",
    "pull",
    "push",
]
