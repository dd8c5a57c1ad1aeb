"""Network and endpoint records under `<root>/networks/`: `nets/<id>.json` per network and
`endpoints/<container id>.json` per attached container, each written by rename. Addresses
and host ports in use are whatever the endpoint records say: no second table to drift."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from pycore.store import atomic
from pycore.structs import struct

TYPE_CHECKING = False  # not typing's: importing typing costs every CLI start
if TYPE_CHECKING:
    from typing import Any


@struct(frozen=True, slots=True)
class NetDirs:
    root: Path  # <store>/networks

    @property
    def nets(self) -> Path:
        return self.root / "nets"

    @property
    def endpoints(self) -> Path:
        return self.root / "endpoints"

    def net(self, net_id: str) -> Path:
        return self.nets / f"{net_id}.json"

    def endpoint(self, cid: str) -> Path:
        return self.endpoints / f"{cid}.json"


def _read_all(d: Path) -> list[dict[str, Any]]:
    try:
        names = sorted(os.listdir(d))
    except FileNotFoundError:
        return []
    out = []
    for n in names:
        if not n.endswith(".json"):
            continue
        try:
            v = json.loads((d / n).read_bytes())
        except (OSError, ValueError):
            continue
        if isinstance(v, dict):
            out.append(v)
    return out


def networks(dirs: NetDirs) -> list[dict[str, Any]]:
    return _read_all(dirs.nets)


def endpoints(dirs: NetDirs) -> list[dict[str, Any]]:
    return _read_all(dirs.endpoints)


def read_endpoint(dirs: NetDirs, cid: str) -> dict[str, Any] | None:
    try:
        v = json.loads(dirs.endpoint(cid).read_bytes())
    except (OSError, ValueError):
        return None
    return v if isinstance(v, dict) else None


def write(path: Path, value: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_json(path, value, mode=0o600)


def remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
