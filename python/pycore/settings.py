"""Settings from the environment and global options: the only module that reads os.environ."""

from __future__ import annotations

import os

from pycore.structs import struct

# Paths are strings: pathlib (with the re, urllib and ipaddress it loads) costs every start.
DEFAULT_ROOT = "/var/lib/pycore"
DEFAULT_CERTS_DIR = "/etc/pycore/certs.d"
# Like Docker, loopback registries are insecure (plain HTTP allowed) unless configured otherwise.
DEFAULT_INSECURE_REGISTRIES: tuple[str, ...] = ("127.0.0.0/8", "::1/128", "localhost")
DEFAULT_REGISTRY_TIMEOUT = 30.0


@struct(frozen=True, slots=True)
class Settings:
    """Global settings every service receives; built once in `cli.main` or by the API user."""

    root: str = DEFAULT_ROOT
    debug: bool = False
    # Registries: `certs_dir/<host:port>/ca.crt` trusts a CA for one registry; insecure
    # registries (host[:port] names or CIDRs) may speak plain HTTP; `auth_file` is a
    # Docker-compatible config.json (None: anonymous only); timeouts bound every socket wait.
    certs_dir: str = DEFAULT_CERTS_DIR
    insecure_registries: tuple[str, ...] = DEFAULT_INSECURE_REGISTRIES
    auth_file: str | None = None
    registry_timeout: float = DEFAULT_REGISTRY_TIMEOUT
    # reproducible-builds.org's SOURCE_DATE_EPOCH: the `created` time of images pycore makes
    # (bootstrap, import) and the file times of the busybox rootfs. None: now.
    source_date_epoch: int | None = None

    @classmethod
    def from_env(
        cls, root: str | os.PathLike[str] | None = None, debug: bool | None = None
    ) -> Settings:
        """Explicit values win over `PYCORE_ROOT` / `PYCORE_DEBUG`, which win over defaults."""
        env_root = os.environ.get("PYCORE_ROOT")
        chosen = os.fspath(root) if root else env_root or DEFAULT_ROOT
        env_debug = os.environ.get("PYCORE_DEBUG", "") not in ("", "0")
        return cls(
            root=os.path.abspath(chosen),
            debug=env_debug if debug is None else debug,
            certs_dir=os.environ.get("PYCORE_CERTS_DIR") or DEFAULT_CERTS_DIR,
            insecure_registries=_insecure_from_env(),
            auth_file=_auth_file_from_env(),
            registry_timeout=_float_env("PYCORE_REGISTRY_TIMEOUT", DEFAULT_REGISTRY_TIMEOUT),
            source_date_epoch=_epoch_env("SOURCE_DATE_EPOCH"),
        )


def _insecure_from_env() -> tuple[str, ...]:
    # Set (even to ""), the comma-separated list replaces the default.
    value = os.environ.get("PYCORE_INSECURE_REGISTRIES")
    if value is None:
        return DEFAULT_INSECURE_REGISTRIES
    return tuple(x.strip() for x in value.split(",") if x.strip())


def _auth_file_from_env() -> str:
    """pycore's own `PYCORE_AUTH_FILE`, else Docker's `$DOCKER_CONFIG/config.json`, else
    `~/.docker/config.json`: the file `pycore login` writes and pull/push read."""
    own = os.environ.get("PYCORE_AUTH_FILE")
    if own:
        return own
    docker_config = os.environ.get("DOCKER_CONFIG")
    if docker_config:
        return os.path.join(docker_config, "config.json")
    return os.path.join(os.path.expanduser("~"), ".docker", "config.json")


def _float_env(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name, ""))
    except ValueError:
        return default
    return value if value > 0 else default


def _epoch_env(name: str) -> int | None:
    value = os.environ.get(name, "").strip()
    return int(value) if value.isdigit() else None
