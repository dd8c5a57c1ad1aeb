"""Per-store network settings: the default bridge's name, the pool subnets come from, the
nftables table and where netns files live. Defaults derive from the store root, so two
roots (a user's and the test suite's) never share a bridge, a table or a subnet; they are
written to `<root>/networks/config.json` on first use, where an operator may change them."""

from __future__ import annotations

import os

from pycore import jsonio
from pycore.settings import DEFAULT_ROOT
from pycore.store import atomic
from pycore.structs import asdict, fields, struct

RUN_DIR = "/run/pycore"


@struct(frozen=True, slots=True)
class NetConfig:
    bridge: str  # the default `bridge` network's Linux bridge
    pool: str  # subnets of networks are carved from it
    prefix: int  # ... at this size
    table: str  # `table ip <table>` holds every rule of this store
    run_dir: str  # netns files: <run_dir>/netns/<container id>
    tag: str  # prefix of every link name this store makes

    @property
    def netns_dir(self) -> str:
        return f"{self.run_dir}/netns"

    def netns(self, cid: str) -> str:
        return f"{self.run_dir}/netns/{cid}"

    def veth(self, cid: str, index: int = 0) -> str:
        # IFNAMSIZ is 16: at most 15 characters.
        return f"{self.tag}{cid[: 13 - len(self.tag)]}{index:x}"[:15]

    def network_bridge(self, net_id: str) -> str:
        return f"{self.tag}b{net_id[: 12 - len(self.tag)]}"


def _is_default(root: str) -> bool:
    return root == os.fspath(DEFAULT_ROOT)


def default_config(root: str | os.PathLike[str]) -> NetConfig:
    root = os.fspath(root)
    if _is_default(root):
        return NetConfig("pycore0", "10.88.0.0/13", 16, "pycore", str(RUN_DIR), "pc")
    import hashlib  # here: OpenSSL's load is off the run path

    h = hashlib.sha256(root.encode()).hexdigest()
    # Another store (the test suite's): /24s from 10.200.0.0/13, from a hash-chosen one
    # on (`pool_start`); names carry the hash.
    return NetConfig(
        f"pc{h[:6]}0", "10.200.0.0/13", 24, f"pycore_{h[:6]}", f"{RUN_DIR}/{h[:12]}", f"p{h[:3]}"
    )


def load(root: str | os.PathLike[str]) -> NetConfig:
    root = os.fspath(root)
    path = f"{root}/networks/config.json"
    try:
        with open(path, "rb") as fh:
            raw = jsonio.loads(fh.read())
        return NetConfig(**{k: raw[k] for k in (f.name for f in fields(NetConfig))})
    except (OSError, ValueError, KeyError, TypeError):
        cfg = default_config(root)
        atomic.write_json(path, asdict(cfg))  # makes the directory
        return cfg


def pool_start(root: str | os.PathLike[str], cfg: NetConfig) -> int:
    """Which candidate subnet of the pool to try first (spreads stores over the pool)."""
    root = os.fspath(root)
    if _is_default(root):
        return 0
    import hashlib  # here: OpenSSL's load is off the run path

    return int(hashlib.sha256(root.encode()).hexdigest()[:8], 16)
