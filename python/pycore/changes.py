"""`--change` for `import` (and later `commit`): Dockerfile instructions applied to the `config`
object of an image config. Supported: CMD, ENTRYPOINT, ENV, WORKDIR, USER, EXPOSE, LABEL,
VOLUME, STOPSIGNAL, the subset `docker import --change` accepts (minus ONBUILD/HEALTHCHECK).
"""

from __future__ import annotations

import copy
import json
import posixpath
import re
import shlex
from collections.abc import Callable, Iterable
from typing import Any

from pycore.errors import UsageError

Config = dict[str, Any]
_MAX_PORT_RANGE = 65536
_PORT = re.compile(r"(\d+)(?:-(\d+))?(?:/(tcp|udp|sctp))?")
_SIGNAL = re.compile(r"(SIG)?[A-Z][A-Z0-9+-]*|\d+")


def apply_changes(config: Config, changes: Iterable[str]) -> Config:
    """A copy of `config` (an image config's `config` object) with every change applied in
    order. Raises UsageError naming the change that is wrong."""
    out: Config = copy.deepcopy(config)
    for change in changes:
        keyword, _, rest = change.strip().partition(" ")
        handler = _HANDLERS.get(keyword.upper())
        if handler is None:
            supported = ", ".join(sorted(_HANDLERS))
            raise UsageError(f"--change {change!r}: unsupported instruction (use {supported})")
        rest = rest.strip()
        if not rest:
            raise UsageError(f"--change {change!r}: {keyword.upper()} needs an argument")
        try:
            handler(out, rest)
        except UsageError as e:
            raise UsageError(f"--change {change!r}: {e}") from e
    return out


def _json_or_shell(text: str) -> list[str]:
    """The exec (JSON array) form as given, or the shell form run by `/bin/sh -c`."""
    if text.startswith("["):
        try:
            value = json.loads(text)
        except ValueError:
            value = None
        if isinstance(value, list) and all(isinstance(x, str) for x in value):
            return value
        # Docker falls back to the shell form when the JSON is not an array of strings.
    return ["/bin/sh", "-c", text]


def _words(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError as e:
        raise UsageError(str(e)) from e


def _pairs(text: str, keyword: str) -> list[tuple[str, str]]:
    """`k=v k2="v 2"` pairs, or the legacy one-pair form `key value with spaces`."""
    words = _words(text)
    if words and "=" not in words[0]:
        key, _, value = text.partition(" ")
        if not value.strip():
            raise UsageError(f"{keyword} needs key=value")
        return [(key, value.strip())]
    pairs = []
    for word in words:
        key, eq, value = word.partition("=")
        if not eq or not key:
            raise UsageError(f"{keyword}: {word!r} is not key=value")
        pairs.append((key, value))
    return pairs


def _cmd(config: Config, text: str) -> None:
    config["Cmd"] = _json_or_shell(text)


def _entrypoint(config: Config, text: str) -> None:
    config["Entrypoint"] = _json_or_shell(text)


def _env(config: Config, text: str) -> None:
    env: list[str] = list(config.get("Env") or [])
    for key, value in _pairs(text, "ENV"):
        env = [e for e in env if e.partition("=")[0] != key]
        env.append(f"{key}={value}")
    config["Env"] = env


def _workdir(config: Config, text: str) -> None:
    path = _words(text)[0] if text else text
    base = config.get("WorkingDir") or "/"
    config["WorkingDir"] = posixpath.normpath(posixpath.join(base, path))


def _user(config: Config, text: str) -> None:
    config["User"] = text


def _expose(config: Config, text: str) -> None:
    ports: dict[str, Any] = dict(config.get("ExposedPorts") or {})
    for word in _words(text):
        m = _PORT.fullmatch(word)
        if not m:
            raise UsageError(f"invalid port {word!r}: use PORT[-PORT][/tcp|udp|sctp]")
        first = int(m.group(1))
        last = int(m.group(2) or first)
        if not 0 < first <= last < _MAX_PORT_RANGE:
            raise UsageError(f"invalid port range {word!r}")
        for port in range(first, last + 1):
            ports[f"{port}/{m.group(3) or 'tcp'}"] = {}
    config["ExposedPorts"] = ports


def _label(config: Config, text: str) -> None:
    labels: dict[str, str] = dict(config.get("Labels") or {})
    labels.update(_pairs(text, "LABEL"))
    config["Labels"] = labels


def _volume(config: Config, text: str) -> None:
    volumes: dict[str, Any] = dict(config.get("Volumes") or {})
    paths = _words(text)
    if text.startswith("["):
        try:
            value = json.loads(text)
        except ValueError:
            value = None
        if isinstance(value, list) and all(isinstance(x, str) for x in value):
            paths = value
    for path in paths:
        if not path.startswith("/"):
            raise UsageError(f"volume {path!r} must be an absolute path")
        volumes[path] = {}
    config["Volumes"] = volumes


def _stopsignal(config: Config, text: str) -> None:
    if not _SIGNAL.fullmatch(text):
        raise UsageError(f"invalid signal {text!r}")
    config["StopSignal"] = text


_HANDLERS: dict[str, Callable[[Config, str], None]] = {
    "CMD": _cmd,
    "ENTRYPOINT": _entrypoint,
    "ENV": _env,
    "WORKDIR": _workdir,
    "USER": _user,
    "EXPOSE": _expose,
    "LABEL": _label,
    "VOLUME": _volume,
    "STOPSIGNAL": _stopsignal,
}
