"""Network records and paths as strings (pycore.network.records, config, service's trash
lookup), and what the network package's run-path modules import."""

from __future__ import annotations

import glob
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

from pycore.network import config
from pycore.network import records as rec
from pycore.network.records import NetDirs
from pycore.network.service import NetworkService
from pycore.settings import DEFAULT_ROOT
from tests.helpers.imports import heavy_loaded
from tests.helpers.procs import dead_pid


def test_netdirs_are_strings_from_str_or_path(tmp_path: Path) -> None:
    for root in (tmp_path / "networks", str(tmp_path / "networks")):
        d = NetDirs(root)
        assert d.root == f"{tmp_path}/networks"
        assert d.nets == f"{tmp_path}/networks/nets"
        assert d.endpoint("abc") == f"{tmp_path}/networks/endpoints/abc.json"
        assert d.net("n1") == f"{tmp_path}/networks/nets/n1.json"
    assert NetDirs(tmp_path) == NetDirs(str(tmp_path))
    assert hash(NetDirs(tmp_path)) == hash(NetDirs(str(tmp_path)))


def test_records_round_trip_and_skip_what_is_not_a_record(tmp_path: Path) -> None:
    d = NetDirs(tmp_path / "networks")
    assert rec.networks(d) == [] and rec.read_endpoint(d, "c1") is None
    rec.write(d.endpoint("c1"), {"Id": "c1", "Networks": {}})
    rec.write(d.net("b"), {"Name": "b"})
    rec.write(d.net("a"), {"Name": "a"})
    Path(d.nets, "broken.json").write_text("{")
    Path(d.nets, "list.json").write_text("[1]")
    Path(d.nets, "notes.txt").write_text("{}")
    assert rec.read_endpoint(d, "c1") == {"Id": "c1", "Networks": {}}
    assert rec.endpoints(d) == [{"Id": "c1", "Networks": {}}]
    assert rec.networks(d) == [{"Name": "a"}, {"Name": "b"}]
    assert os.stat(d.endpoint("c1")).st_mode & 0o777 == 0o600
    Path(d.endpoint("c2")).write_text('"text"')
    assert rec.read_endpoint(d, "c2") is None
    rec.remove(d.endpoint("c1"))
    rec.remove(d.endpoint("c1"))
    assert rec.read_endpoint(d, "c1") is None


def test_config_from_str_or_path_root(tmp_path: Path) -> None:
    assert config.default_config(str(tmp_path)) == config.default_config(tmp_path)
    assert config.pool_start(str(tmp_path), config.default_config(tmp_path)) == (
        config.pool_start(tmp_path, config.default_config(tmp_path))
    )
    for default in (DEFAULT_ROOT, str(DEFAULT_ROOT), Path(DEFAULT_ROOT)):
        assert config.default_config(default).bridge == "pycore0"
        assert config.pool_start(default, config.default_config(default)) == 0
    cfg = config.load(str(tmp_path / "r"))
    assert cfg == config.load(tmp_path / "r") == config.default_config(tmp_path / "r")
    assert cfg.netns_dir == f"{cfg.run_dir}/netns" and cfg.netns("c") == f"{cfg.run_dir}/netns/c"
    # An operator's edit is read back.
    path = tmp_path / "r" / "networks" / "config.json"
    path.write_text(path.read_text().replace(cfg.pool, "10.64.0.0/12"))
    assert config.load(tmp_path / "r").pool == "10.64.0.0/12"
    path.write_text("{}")  # broken: the defaults again, written back
    assert config.load(tmp_path / "r") == cfg


def test_trashed_finds_what_the_glob_found(tmp_path: Path) -> None:
    cid = "ab" * 32
    trash = tmp_path / "tmp"
    trash.mkdir()
    names = [f"rm-1-{cid}", f"rm-22-{cid}", f"rm--{cid}", f"rm-{cid}", f"xrm-1-{cid}"]
    names += [f"rm-1-{cid}x", f".rm-1-{cid}", f"rm-1-{'cd' * 32}", "rm-", f"rm-1-{cid}.tmp"]
    for n in names:
        (trash / n).mkdir()
    store = SimpleNamespace(layout=SimpleNamespace(root=str(tmp_path), tmp=str(trash)))
    svc = NetworkService(cast("Any", store))
    assert sorted(svc._trashed(cid)) == sorted(glob.glob(str(trash / f"rm-*-{cid}")))
    assert len(svc._trashed(cid)) == 3
    store.layout.tmp = str(tmp_path / "missing")
    assert svc._trashed(cid) == []


def test_the_network_run_path_loads_no_slow_stdlib_module() -> None:
    """Neither `--network none` (wiring only) nor a bridged run (service and the rest)."""
    code = (
        "import pycore.network.wiring, pycore.network.service, pycore.network.ports\n"
        "from pycore.network import ipam\n"
        "net = ipam.subnet('10.1.0.0/24')\n"
        "ipam.allocate(net, ['10.1.0.2'])\n"
        "ipam.choose_subnet(ipam.candidates(ipam.parse_subnet('10.0.0.0/13'), 24, 5), [net])\n"
        "pycore.network.ports.parse_publish('8080:80/udp')\n"
    )
    assert heavy_loaded(code) == []


def test_detach_takes_a_half_written_record_of_a_killed_command(tmp_path: Path) -> None:
    """A command killed while it wrote a container's first endpoint record leaves only the
    temp file (nothing the record names is made before it): `rm`'s detach removes it; a
    live writer's temp stays."""
    cid = "ab" * 32
    dead = dead_pid()
    store = SimpleNamespace(layout=SimpleNamespace(root=str(tmp_path), tmp=str(tmp_path / "t")))
    svc = NetworkService(cast("Any", store))
    os.makedirs(svc.dirs.endpoints)
    killed = Path(svc.dirs.endpoints, f".{cid}.json.tmp-{dead}-140000")
    live = Path(svc.dirs.endpoints, f".{'cd' * 32}.json.tmp-{os.getpid()}-140001")
    killed.write_text("{")
    live.write_text("{")
    svc.detach(cid)
    assert os.listdir(svc.dirs.endpoints) == [live.name]
