"""Where the container service meets networking: a few calls, each a no-op for
`--network none|host` (which never import the rest of this package)."""

from __future__ import annotations

import os

from pycore.errors import UsageError

TYPE_CHECKING = False  # not typing's: importing typing costs every CLI start
if TYPE_CHECKING:
    from typing import Any

    from pycore.network.service import NetworkService
    from pycore.runtime.options import RunOptions
    from pycore.store.store import Store

_NO_ENDPOINT = ("none", "host")


def _mode(record: dict[str, Any]) -> str:
    return str(record.get("HostConfig", {}).get("NetworkMode") or "default")


def _service(store: Store) -> NetworkService:
    from pycore.network.service import NetworkService

    return NetworkService(store)


def record_fields(
    store: Store, record: dict[str, Any], opts: RunOptions, image_cfg: dict[str, Any]
) -> None:
    """Docker's ExposedPorts, PortBindings, PublishAllPorts, Links and the network-scoped
    options into a new container's record; checks the network exists (as `create` does)."""
    from pycore.network.ports import publish_all

    exposed = dict.fromkeys([*(image_cfg.get("ExposedPorts") or {}), *opts.expose])
    cfg, hc = record["Config"], record["HostConfig"]
    if exposed:
        cfg["ExposedPorts"] = {k: {} for k in exposed}
    mode = opts.network
    publishing = list(opts.publish)
    if opts.publish_all:
        publishing += publish_all(exposed, publishing)
    if mode in _NO_ENDPOINT or mode.startswith("container:"):
        if publishing or opts.links or opts.network_aliases or opts.ip:
            what = "port publishing, links, aliases and --ip"
            raise UsageError(f"conflicting options: {what} need a bridge or user network")
        return
    bindings: dict[str, list[dict[str, str]]] = {}
    for b in publishing:
        bindings.setdefault(b.key, []).append(
            {"HostIp": b.host_ip, "HostPort": str(b.host_port) if b.host_port else ""}
        )
    hc["PortBindings"] = bindings
    hc["PublishAllPorts"] = opts.publish_all
    hc["Links"] = [link if ":" in link else f"{link}:{link}" for link in opts.links]
    record["NetworkingConfig"] = {"Aliases": list(opts.network_aliases), "IPAddress": opts.ip}
    if mode not in ("default", "bridge"):
        _service(store).get(mode)


def before_start(
    store: Store, cid: str, record: dict[str, Any], bundle: str | os.PathLike[str]
) -> None:
    if _mode(record) in _NO_ENDPOINT:
        return
    svc = _service(store)
    svc.reconcile()
    svc.attach(cid, record, bundle, os.path.join(store.layout.container(cid), "hosts"))


def after_exit(store: Store, cid: str, record: dict[str, Any]) -> None:
    """The container may have exited: release its endpoint unless it runs (restarted)."""
    if _mode(record) not in _NO_ENDPOINT:
        _service(store).detach_if_stopped(cid)


def exit_command(
    store: Store, cid: str, record: dict[str, Any]
) -> tuple[list[str] | None, str | None]:
    """What the container's monitor runs once it is finished for good: `container cleanup`
    releases the endpoint; and the endpoint's record, without which it need not run (an
    attached CLI releases the endpoint itself). (None, None) without an endpoint."""
    from pycore.network.records import NetDirs
    from pycore.runtime.exitcmd import cleanup_argv

    mode = _mode(record)
    if mode in _NO_ENDPOINT or mode.startswith("container:"):
        return None, None
    root = os.fspath(store.layout.root)
    argv = cleanup_argv(root, cid)
    return (argv, NetDirs(f"{root}/networks").endpoint(cid)) if argv else (None, None)


def release(store: Store, cid: str) -> None:
    """`container cleanup`: the endpoint of a finished container goes (see exit_command)."""
    from pycore.network.records import NetDirs

    if os.path.exists(NetDirs(f"{os.fspath(store.layout.root)}/networks").endpoint(cid)):
        _service(store).release_after_exit(cid)


def on_remove(store: Store, cid: str, record: dict[str, Any]) -> None:
    if _mode(record) not in _NO_ENDPOINT:
        _service(store).detach(cid)


def settings(store: Store, cid: str, record: dict[str, Any]) -> dict[str, Any]:
    if _mode(record) in _NO_ENDPOINT:
        return {"Ports": {}, "IPAddress": "", "Networks": {}}
    return _service(store).settings(cid)
