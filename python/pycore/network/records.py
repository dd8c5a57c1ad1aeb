"""Network and endpoint records under `<root>/networks/`: `nets/<id>.json` per network and
`endpoints/<container id>.json` per attached container, each written by rename. Addresses
and host ports in use are whatever the endpoint records say: no second table to drift."""

from __future__ import annotations

import os

from pycore import jsonio
from pycore.store import atomic

TYPE_CHECKING = False  # not typing's: importing typing costs every CLI start
if TYPE_CHECKING:
    from typing import Any


class NetDirs:
    """Paths under `<store>/networks`, as strings."""

    __slots__ = ("root",)

    root: str

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = os.fspath(root)

    def __repr__(self) -> str:
        return f"NetDirs({self.root!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NetDirs) and other.root == self.root

    def __hash__(self) -> int:
        return hash(self.root)

    @property
    def nets(self) -> str:
        return f"{self.root}/nets"

    @property
    def endpoints(self) -> str:
        return f"{self.root}/endpoints"

    def net(self, net_id: str) -> str:
        return f"{self.root}/nets/{net_id}.json"

    def endpoint(self, cid: str) -> str:
        return f"{self.root}/endpoints/{cid}.json"


def read_json(path: str | os.PathLike[str]) -> Any:
    """A JSON file's value; OSError or ValueError as reading or parsing fails."""
    with open(path, "rb") as f:
        return jsonio.loads(f.read())


def _read_all(d: str) -> list[dict[str, Any]]:
    try:
        names = sorted(os.listdir(d))
    except FileNotFoundError:
        return []
    out = []
    for n in names:
        if not n.endswith(".json"):
            continue
        try:
            v = read_json(f"{d}/{n}")
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
        v = read_json(dirs.endpoint(cid))
    except (OSError, ValueError):
        return None
    return v if isinstance(v, dict) else None


def write(path: str, value: dict[str, Any]) -> None:
    """Compact JSON by rename (the directory made if need be)."""
    atomic.write_json(path, value, mode=0o600)


def remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
