"""Settings from the environment and global options: the only module that reads os.environ."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_ROOT = Path("/var/lib/pycore")


@dataclass(frozen=True, slots=True)
class Settings:
    """Global settings every service receives; built once in `cli.main` or by the API user."""

    root: Path = DEFAULT_ROOT
    debug: bool = False

    @classmethod
    def from_env(cls, root: str | Path | None = None, debug: bool | None = None) -> Settings:
        """Explicit values win over `PYCORE_ROOT` / `PYCORE_DEBUG`, which win over defaults."""
        env_root = os.environ.get("PYCORE_ROOT")
        chosen = Path(root) if root else Path(env_root) if env_root else DEFAULT_ROOT
        env_debug = os.environ.get("PYCORE_DEBUG", "") not in ("", "0")
        return cls(root=chosen.absolute(), debug=env_debug if debug is None else debug)
