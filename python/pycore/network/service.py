"""Networks of one store (`network create|ls|inspect|rm|connect|disconnect|prune`) and the
life of a container's endpoints: attach before start (netns, veth, address, published
ports, hosts files), detach when it stops or is removed, and the sweep (`reconcile`) that
tears down what a killed command or an exited container left."""

from __future__ import annotations

import os
import time

from pycore.errors import Conflict, NetworkError, NetworkNotFound, UsageError
from pycore.network import config, host, hosts, ipam, nft
from pycore.network import records as rec
from pycore.network.ports import PortBinding, describe, overlaps
from pycore.network.records import NetDirs
from pycore.store import atomic

TYPE_CHECKING = False  # not typing's: importing typing costs every CLI start
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

    from pycore.store.store import Store

BUILTIN_MODES = ("none", "host")
DEFAULT_NAMES = ("bridge", "default", "")


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _binding(raw: list[Any]) -> PortBinding:
    return PortBinding(int(raw[0]), str(raw[1]), str(raw[2]), int(raw[3]))


def _raw(b: PortBinding) -> list[Any]:
    return [b.container_port, b.proto, b.host_ip, b.host_port]


class NetworkService:
    """Every method raises PycoreError subclasses only."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.root = store.layout.root
        self.dirs = NetDirs(os.path.join(self.root, "networks"))
        self.cfg = config.load(self.root)

    # -- networks ----------------------------------------------------------------------

    def _default(self) -> dict[str, Any]:
        """The `bridge` network's record, made (subnet chosen) on first use. Lock held."""
        from pycore import native  # not hashlib: loading OpenSSL costs a bridged run ~3 ms

        net_id = native.sha256_bytes(f"bridge:{self.root}".encode()).hex
        path = self.dirs.net(net_id)
        try:
            value = rec.read_json(path)
            if isinstance(value, dict):
                return value
        except (OSError, ValueError):
            pass
        subnet = self._free_subnet()
        value = self._record("bridge", net_id, subnet, self.cfg.bridge, False, {}, default=True)
        rec.write(path, value)
        return value

    def _record(
        self,
        name: str,
        net_id: str,
        subnet: ipam.Subnet,
        bridge: str,
        internal: bool,
        labels: dict[str, str],
        *,
        default: bool = False,
    ) -> dict[str, Any]:
        return {
            "Name": name,
            "Id": net_id,
            "Created": _now(),
            "Scope": "local",
            "Driver": "bridge",
            "Internal": internal,
            "Default": default,
            "IPAM": {"Config": [{"Subnet": str(subnet), "Gateway": ipam.gateway(subnet)}]},
            "Options": {"com.docker.network.bridge.name": bridge},
            "Labels": labels,
        }

    def _free_subnet(self) -> ipam.Subnet:
        taken = [ipam.subnet(r, strict=False) for r in host.routes()]
        taken += [_subnet(n) for n in rec.networks(self.dirs)]
        pool = ipam.parse_subnet(self.cfg.pool)
        start = config.pool_start(self.root, self.cfg)
        n = 2 ** (self.cfg.prefix - pool.prefixlen)
        return ipam.choose_subnet(ipam.candidates(pool, self.cfg.prefix, start % n), taken)

    def networks(self) -> list[dict[str, Any]]:
        """`bridge` first, then user-defined networks by name (host and none are modes)."""
        with self.store.locked():
            default = self._default()
        users = [n for n in rec.networks(self.dirs) if not n.get("Default")]
        return [default, *sorted(users, key=lambda n: n["Name"])]

    def get(self, ref: str) -> dict[str, Any]:
        if ref in DEFAULT_NAMES:
            with self.store.locked():
                return self._default()
        nets = rec.networks(self.dirs)
        for n in nets:
            if n["Name"] == ref or n["Id"] == ref:
                return n
        matches = [n for n in nets if ref and n["Id"].startswith(ref)]
        if len(matches) == 1:
            return matches[0]
        raise NetworkNotFound(f"network {ref} not found")

    def inspect(self, ref: str) -> dict[str, Any]:
        n = dict(self.get(ref))
        n.pop("Default", None)
        members = {}
        for ep in rec.endpoints(self.dirs):
            att = ep.get("Networks", {}).get(n["Id"])
            if att:
                members[ep["Id"]] = {
                    "Name": ep.get("Name", ""),
                    "IPv4Address": f"{att['IPAddress']}/{att['Prefix']}",
                    "MacAddress": "",
                }
        n["Containers"] = members
        return n

    def create(
        self,
        name: str,
        *,
        subnet: str | None = None,
        internal: bool = False,
        labels: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        if name in (*DEFAULT_NAMES, *BUILTIN_MODES) or name.startswith("container:"):
            raise UsageError(f"network name {name!r} is reserved")
        net_id = os.urandom(32).hex()
        with self.store.locked():
            nets = rec.networks(self.dirs)
            if any(n["Name"] == name for n in nets):
                raise Conflict(f"network with name {name} already exists")
            if subnet:
                net = ipam.parse_subnet(subnet)
                for n in [*nets, self._default()]:
                    if net.overlaps(_subnet(n)):
                        raise Conflict(f"Pool overlaps with other one on this address space: {net}")
            else:
                self._default()
                net = self._free_subnet()
            value = self._record(
                name, net_id, net, self.cfg.network_bridge(net_id), internal, labels or {}
            )
            rec.write(self.dirs.net(net_id), value)
            try:
                self._ensure_link(value)
            except BaseException:
                rec.remove(self.dirs.net(net_id))
                self._drop_link(value)
                raise
        return value

    def remove(self, ref: str) -> dict[str, Any]:
        n = self.get(ref)
        if n.get("Default"):
            raise Conflict(f"{n['Name']} is a pre-defined network and cannot be removed")
        self.reconcile()
        with self.store.locked():
            users = [e for e in rec.endpoints(self.dirs) if n["Id"] in e.get("Networks", {})]
            if users:
                raise Conflict(
                    f"error while removing network: network {n['Name']} id {n['Id']} has "
                    "active endpoints"
                )
            rec.remove(self.dirs.net(n["Id"]))
            self._drop_link(n)
            self._drop_default_if_idle()
        return n

    def prune(self) -> list[str]:
        """Remove every user-defined network without containers; their names."""
        gone = []
        for n in rec.networks(self.dirs):
            if n.get("Default"):
                continue
            try:
                self.remove(n["Id"])
            except Conflict:
                continue
            gone.append(n["Name"])
        return gone

    def _ensure_link(self, net: dict[str, Any]) -> None:
        """The network's bridge and its rules (lock held); made again after a cleanup."""
        lines = self._bridge_lines(net)
        if lines:
            host.ip_batch(lines)
            self._link_rules(net)

    def _bridge_lines(self, net: dict[str, Any]) -> list[str]:
        """`ip` commands making the network's bridge, none if it is there (lock held)."""
        bridge = _bridge(net)
        if host.link_exists(bridge):
            return []
        subnet = _subnet(net)
        gateway = f"{ipam.gateway(subnet)}/{subnet.prefixlen}"
        return [
            f"link add {bridge} type bridge",
            f"addr add {gateway} dev {bridge}",
            f"link set {bridge} up",
        ]

    def _link_rules(self, net: dict[str, Any]) -> None:
        """What a new bridge needs besides the link: sysctls and nftables rules."""
        bridge, subnet = _bridge(net), _subnet(net)
        host.route_localnet(bridge)
        rules = nft.network_rules(self.cfg.table, net["Id"], bridge, str(subnet), net["Internal"])
        # Usually the table went with the last endpoint: one transaction makes it all again.
        if not nft.create_table_with(self.cfg.table, rules):
            nft.ensure_table(self.cfg.table)
            nft.delete_tagged(self.cfg.table, {f"net:{net['Id']}"})
            host.nft(rules)
        if not net["Internal"]:
            host.enable_forwarding()

    def _drop_link(self, net: dict[str, Any]) -> None:
        host.delete_link(_bridge(net))
        if nft.table_exists(self.cfg.table):
            nft.delete_tagged(self.cfg.table, {f"net:{net['Id']}"})

    # -- endpoints -----------------------------------------------------------------------

    def attach(
        self,
        cid: str,
        record: dict[str, Any],
        bundle: str | os.PathLike[str],
        etc_hosts: str | os.PathLike[str],
    ) -> None:
        """Before the container starts: its network namespace, endpoints, ports, /etc/hosts,
        and the namespace path and `--link` variables in its config.json."""
        mode = str(record.get("HostConfig", {}).get("NetworkMode") or "default")
        if mode in BUILTIN_MODES:
            return
        if rec.read_endpoint(self.dirs, cid) is not None:
            self.detach(cid)
        if mode.startswith("container:"):
            self._patch_spec(bundle, self._netns_of(mode.partition(":")[2]), [])
            return
        netcfg = record.get("NetworkingConfig", {})
        links = list(record.get("HostConfig", {}).get("Links") or [])
        link_env, link_hosts = self._links(record, links)
        recorded = False
        try:
            with self.store.locked():
                net = self._default() if mode in DEFAULT_NAMES else self.get(mode)
                endpoint = self._reserve(cid, record, net, netcfg)
                endpoint["LinkHosts"] = link_hosts
                rec.write(self.dirs.endpoint(cid), endpoint)
                recorded = True
                host.prepare_netns_dir(self.cfg.netns_dir)
                # The bridge, if it went with the last endpoint, in the veth's `ip` batch.
                bridge = self._bridge_lines(net)
                self._plumb(cid, endpoint, net, 0, first=bridge)
                if bridge:
                    self._link_rules(net)
            ports = [_binding(p) for p in endpoint["Ports"]]
            address = endpoint["Networks"][net["Id"]]["IPAddress"]
            if ports:
                host.nft(nft.port_rules(self.cfg.table, cid, address, ports))
            self._patch_spec(bundle, endpoint["Netns"], link_env)
            with self.store.locked():
                self._sync_hosts(net["Id"], also=cid)
        except BaseException:
            if recorded:
                self.detach(cid)
            raise
        del etc_hosts

    def _reserve(
        self, cid: str, record: dict[str, Any], net: dict[str, Any], netcfg: dict[str, Any]
    ) -> dict[str, Any]:
        """Address and host ports, recorded before anything is made (lock held): a command
        killed from here on leaves a record the next sweep tears down by."""
        everything = rec.endpoints(self.dirs)
        subnet = _subnet(net)
        used = [
            e["Networks"][net["Id"]]["IPAddress"]
            for e in everything
            if net["Id"] in e.get("Networks", {})
        ]
        aliases = list(netcfg.get("Aliases") or [])
        if (aliases or netcfg.get("IPAddress")) and net.get("Default"):
            raise UsageError(
                "network-scoped aliases and user-specified IP addresses are only supported "
                "on user-defined networks"
            )
        address = ipam.allocate(subnet, used, netcfg.get("IPAddress") or None)
        ports = self._host_ports(record, everything)
        pid, start = host.self_identity()
        return {
            "Id": cid,
            "Name": record.get("Name", ""),
            "Hostname": record.get("Config", {}).get("Hostname", cid[:12]),
            "Owner": [pid, start],
            "Netns": str(self.cfg.netns(cid)),
            "Networks": {net["Id"]: self._attachment(net, cid, address, aliases, 0)},
            "Ports": [_raw(p) for p in ports],
        }

    def _attachment(
        self,
        net: dict[str, Any],
        cid: str,
        address: str,
        aliases: list[str],
        index: int,
    ) -> dict[str, Any]:
        subnet = _subnet(net)
        return {
            "NetworkName": net["Name"],
            "IPAddress": address,
            "Prefix": subnet.prefixlen,
            "Gateway": ipam.gateway(subnet),
            "Veth": self.cfg.veth(cid, index),
            "Interface": f"eth{index}",
            "Aliases": aliases,
        }

    def _host_ports(
        self, record: dict[str, Any], everything: Iterable[dict[str, Any]]
    ) -> list[PortBinding]:
        wanted = bindings_of(record)
        taken = [_binding(p) for e in everything for p in e.get("Ports", [])]
        out: list[PortBinding] = []
        for b in wanted:
            if b.host_port == 0:
                for _ in range(100):
                    port = host.free_port(b.proto)
                    cand = PortBinding(b.container_port, b.proto, b.host_ip, port)
                    if not any(overlaps(cand, t) for t in (*taken, *out)):
                        b = cand
                        break
                else:
                    raise NetworkError("no free host port to publish on")
            elif any(overlaps(b, t) for t in (*taken, *out)) or host.listening(
                b.proto, b.host_ip, b.host_port
            ):
                raise NetworkError(
                    f"driver failed programming external connectivity: Bind for "
                    f"{describe(b)} failed: port is already allocated"
                )
            out.append(b)
        return out

    def _plumb(
        self,
        cid: str,
        endpoint: dict[str, Any],
        net: dict[str, Any],
        index: int,
        *,
        first: list[str] | None = None,
    ) -> None:
        """The netns (for eth0), the veth pair, the address and route inside; `first`: host
        `ip` commands (the bridge, when it went with the last endpoint) to run before."""
        netns = str(endpoint["Netns"])
        att = endpoint["Networks"][net["Id"]]
        if index == 0:
            host.create_netns(netns)
        if first:
            host.ip_batch(first)
        # Over netlink, no process: the veth up on the bridge with its peer made in the netns
        # (a stale one of the last run replaced), then inside it the address, up, the route.
        address = f"{att['IPAddress']}/{att['Prefix']}"
        gateway = att["Gateway"] if index == 0 else None
        host.plumb_veth(_bridge(net), att["Veth"], netns, att["Interface"], address, gateway)

    def _patch_spec(self, bundle: str | os.PathLike[str], netns: str, env: list[str]) -> None:
        path = os.path.join(bundle, "config.json")
        spec = rec.read_json(path)
        for ns in spec.get("linux", {}).get("namespaces", []):
            if ns.get("type") == "network":
                ns["path"] = netns
        if env:
            from pycore.runtime.spec import merge_env

            spec["process"]["env"] = merge_env(spec["process"]["env"], env)
        atomic.write_json(path, spec, mode=0o600, indent=None)  # compact, as create writes it

    def _netns_of(self, ref: str) -> str:
        from pycore.runtime.containers import ContainerService

        other = ContainerService(self.store).get(ref)
        if not other.running:
            raise Conflict(f"cannot join network of a non running container: {ref}")
        ep = rec.read_endpoint(self.dirs, other.id)
        if ep is not None:
            return str(ep["Netns"])
        return f"/proc/{other.state.pid}/ns/net"

    def _links(self, record: dict[str, Any], links: list[str]) -> tuple[list[str], list[list[Any]]]:
        """Docker's legacy link variables and hosts entries for `--link name[:alias]`."""
        if not links:
            return [], []
        from pycore.runtime.containers import ContainerService

        containers = ContainerService(self.store)
        env: list[str] = []
        entries: list[list[Any]] = []
        me = record.get("Name", "")
        for link in links:
            name, _, alias = link.partition(":")
            alias = alias or name
            target = containers.get(name)
            ep = rec.read_endpoint(self.dirs, target.id)
            if not target.running or ep is None or not ep.get("Networks"):
                raise Conflict(f"Cannot link to a non running container: /{name} AS /{me}/{alias}")
            ip = next(iter(ep["Networks"].values()))["IPAddress"]
            entries.append([ip, [alias, target.id[:12], target.name]])
            env += link_env(alias, me, target.name, ip, target.record)
        return env, entries

    def _sync_hosts(self, net_id: str, *, also: str | None = None) -> None:
        """Rewrite /etc/hosts of every container on `net_id` (and `also`). Lock held."""
        everything = rec.endpoints(self.dirs)
        nets = {n["Id"]: n for n in rec.networks(self.dirs)}
        for ep in everything:
            if net_id not in ep.get("Networks", {}) and ep["Id"] != also:
                continue
            self._write_hosts(ep, everything, nets)

    def _write_hosts(
        self, ep: dict[str, Any], everything: list[dict[str, Any]], nets: dict[str, Any]
    ) -> None:
        peers: list[tuple[str, list[str]]] = []
        for net_id in ep.get("Networks", {}):
            if nets.get(net_id, {}).get("Default", True):
                continue  # the default bridge resolves no names (only links)
            for other in everything:
                att = other.get("Networks", {}).get(net_id)
                if att and other["Id"] != ep["Id"]:
                    peers.append((att["IPAddress"], [other["Name"], *att.get("Aliases", [])]))
        peers += [(ip, list(names)) for ip, names in ep.get("LinkHosts", [])]
        own = next(iter(ep["Networks"].values()))["IPAddress"] if ep.get("Networks") else None
        text = hosts.render(ep.get("Hostname", ep["Id"][:12]), own, peers)
        hosts.write_in_place(os.path.join(self.store.layout.container(ep["Id"]), "hosts"), text)

    def connect(
        self, ref: str, container: str, *, aliases: Iterable[str] = (), ip: str | None = None
    ) -> None:
        """Attach a running container to one more user-defined network (eth1, eth2...)."""
        from pycore.runtime.containers import ContainerService

        c = ContainerService(self.store).get(container)
        with self.store.locked():
            net = self.get(ref)
            ep = rec.read_endpoint(self.dirs, c.id)
            if ep is None or not c.running:
                raise Conflict(f"container {container} is not running on a bridge network")
            if net["Id"] in ep["Networks"]:
                raise Conflict(
                    f"endpoint with name {c.name} already exists in network {net['Name']}"
                )
            if net.get("Default") and (aliases or ip):
                raise UsageError(
                    "network-scoped aliases are only supported on user-defined networks"
                )
            self._ensure_link(net)
            used = [
                e["Networks"][net["Id"]]["IPAddress"]
                for e in rec.endpoints(self.dirs)
                if net["Id"] in e.get("Networks", {})
            ]
            address = ipam.allocate(_subnet(net), used, ip)
            index = 1 + max(int(a["Interface"][3:]) for a in ep["Networks"].values())
            ep["Networks"][net["Id"]] = self._attachment(net, c.id, address, list(aliases), index)
            rec.write(self.dirs.endpoint(c.id), ep)
        try:
            self._plumb(c.id, ep, net, index)
        except BaseException:
            self.disconnect(ref, container)
            raise
        with self.store.locked():
            self._sync_hosts(net["Id"], also=c.id)

    def disconnect(self, ref: str, container: str) -> None:
        from pycore.runtime.containers import ContainerService

        c = ContainerService(self.store).get(container)
        with self.store.locked():
            net = self.get(ref)
            ep = rec.read_endpoint(self.dirs, c.id)
            if ep is None or net["Id"] not in ep["Networks"]:
                raise Conflict(f"container {c.short_id} is not connected to network {net['Name']}")
            att = ep["Networks"].pop(net["Id"])
            host.delete_link(att["Veth"])
            if not ep["Networks"]:
                nft.delete_tagged(self.cfg.table, {c.id})
                ep["Ports"] = []
            rec.write(self.dirs.endpoint(c.id), ep)
            self._sync_hosts(net["Id"], also=c.id)
            self._drop_default_if_idle()

    def detach(self, cid: str, *, kernel_links: bool = False) -> None:
        """Tear down everything of a container's endpoints; idempotent. `kernel_links`: the
        veths are left to the kernel, which destroys them with the namespace (all their peers
        are in it) once its last holder, the exiting monitor, is gone: no synchronous `ip link
        del`, which waits out RCU grace periods (~30 ms, the costliest step of `run --rm`).
        A record write a killed command left half done goes too (its first write may be all
        there is: the record is written before anything it names is made)."""
        atomic.sweep_temps(self.dirs.endpoints)
        ep = rec.read_endpoint(self.dirs, cid)
        if ep is None:
            return
        veths = [] if kernel_links else [a["Veth"] for a in ep.get("Networks", {}).values()]
        host.remove_netns(str(ep.get("Netns") or self.cfg.netns(cid)))
        with self.store.locked():
            rec.remove(self.dirs.endpoint(cid))
            for net_id in ep.get("Networks", {}):
                self._sync_hosts(net_id)
            # Its veths in the same `ip` batch as an idle default bridge; its DNAT rules go
            # with the table, or by their comment if the table stays.
            if not self._drop_default_if_idle(veths, keep=True) and ep.get("Ports"):
                nft.delete_tagged(self.cfg.table, {cid})  # none if the table is gone

    def _drop_default_if_idle(self, links: Iterable[str] = (), *, keep: bool = False) -> bool:
        """Without `keep`, the idle default bridge goes, and the store's table and netns
        directory if nothing uses them (lock held); `links` are deleted in the same batch.
        Whether the table went. A container's exit keeps them (as docker0 stays): the next
        run finds them made; `network cleanup` and `network rm` drop what is idle."""
        if keep:
            host.delete_links(links)
            return False
        everything = rec.endpoints(self.dirs)
        nets = rec.networks(self.dirs)
        idle = [
            n
            for n in nets
            if n.get("Default")
            and host.link_exists(_bridge(n))
            and not any(n["Id"] in e.get("Networks", {}) for e in everything)
        ]
        drop_table = not everything and all(n.get("Default") for n in nets)
        host.delete_links([*links, *(_bridge(n) for n in idle)])
        if idle and not drop_table:
            nft.delete_tagged(self.cfg.table, {f"net:{n['Id']}" for n in idle})
        if not everything:
            self._drop_netns_dir()
            if drop_table:
                nft.delete_table(self.cfg.table)
        return drop_table

    def _drop_netns_dir(self) -> None:
        """No endpoint left (lock held): the netns directory's own mount goes too."""
        d = self.cfg.netns_dir
        if not os.path.exists(d):
            return
        for name in os.listdir(d):
            host.remove_netns(f"{d}/{name}")
        if host.is_mounted(d):
            host.run(["umount", "-l", d], check=False)
        for p in (d, os.path.dirname(d)):
            if p != config.RUN_DIR:
                try:
                    os.rmdir(p)
                except OSError:
                    pass

    def detach_if_stopped(self, cid: str) -> None:
        """After an exit this command saw (attached run, failed start, stop): the endpoint
        goes now unless a restart follows, even while the monitor is still finishing (its
        exit command would do the same, later: `run` returns with the endpoint released)."""
        if rec.read_endpoint(self.dirs, cid) is None:
            return
        from pycore.runtime.records import ContainerDir

        try:
            raw = rec.read_json(ContainerDir(self.store.layout.container(cid)).state)
        except (OSError, ValueError):
            raw = {}
        if raw.get("status") not in ("running", "restarting"):
            self.detach(cid, kernel_links=True)

    def _stale(self, cid: str) -> bool:
        from pycore.runtime.records import ContainerDir, read_state

        ep = rec.read_endpoint(self.dirs, cid)
        if ep is None:
            return False
        owner = ep.get("Owner") or [0, None]
        if host.pid_alive(int(owner[0]), owner[1]) and owner[0] != host.self_identity()[0]:
            return False  # another command is setting it up right now
        cdir = ContainerDir(self.store.layout.container(cid))
        if not os.path.exists(cdir.path):
            # `--rm`: the monitor renamed the directory into the trash (`rm-<pid>-<id>`) and
            # keeps it there while its exit command releases this endpoint.
            return not any(read_state(ContainerDir(d)).monitor_alive for d in self._trashed(cid))
        state = read_state(cdir)
        # A live monitor may restart the container (restart policy), or is releasing this
        # endpoint (its exit command): it keeps it till then.
        return state.status != "running" and not state.monitor_alive

    def _trashed(self, cid: str) -> list[str]:
        """What `glob("rm-*-<cid>")` finds in the store's trash: `run --rm`'s renamed
        directories of the container."""
        trash = os.fspath(self.store.layout.tmp)
        try:
            names = os.listdir(trash)
        except OSError:
            return []
        tail = f"-{cid}"
        return [
            os.path.join(trash, n)
            for n in names
            if n.startswith("rm-") and n.endswith(tail) and len(n) >= 3 + len(tail)
        ]

    def release_after_exit(self, cid: str) -> None:
        """The monitor's exit command: the container will not run again under that monitor,
        so its endpoint goes (veth, DNAT rules, netns, address, peers' hosts entries). Left
        alone if a later start of the container has a monitor of its own by now; idempotent,
        and safe beside a `rm` or a sweep doing the same."""
        from pycore.runtime.records import ContainerDir, is_alive

        if rec.read_endpoint(self.dirs, cid) is None:
            return
        state = ContainerDir(self.store.layout.container(cid)).state
        try:
            raw = rec.read_json(state)
        except (OSError, ValueError):
            raw = {}
        monitor = raw.get("monitor_pid")
        if monitor and monitor != os.getppid() and is_alive(monitor, raw.get("monitor_start")):
            return
        # The container's processes are gone and its monitor, the netns's last holder, exits
        # once this returns: the kernel takes the veths with the netns (a synchronous `ip link
        # del` would wait out an RCU grace period, ~30 ms a `stop` or `rm -f` waits for).
        self.detach(cid, kernel_links=True)

    def reconcile(self) -> list[str]:
        """Tear down the endpoints of containers that exited, were removed, or whose setup
        was killed; the ids swept."""
        swept = []
        atomic.sweep_temps(self.dirs.endpoints)  # a record write killed midway
        for ep in rec.endpoints(self.dirs):
            if self._stale(ep["Id"]):
                self.detach(ep["Id"])
                swept.append(ep["Id"])
        return swept

    def cleanup(self) -> list[str]:
        """`network cleanup`: the sweep, then the idle default bridge, and the table and
        netns directory if nothing uses them; the ids swept."""
        swept = self.reconcile()
        with self.store.locked():
            self._drop_default_if_idle()
        return swept

    def cleanup_all(self) -> None:
        """Remove every link, rule and netns of this store (user networks' records stay:
        their bridges are made again on next use). Running containers lose their network."""
        for ep in rec.endpoints(self.dirs):
            self.detach(ep["Id"])
        with self.store.locked():
            for n in rec.networks(self.dirs):
                self._drop_link(n)
            nft.delete_table(self.cfg.table)
            self._drop_netns_dir()

    # -- what a container's inspect and `port` show ---------------------------------------

    def ports(self, cid: str) -> list[PortBinding]:
        ep = rec.read_endpoint(self.dirs, cid)
        return sorted(_binding(p) for p in (ep or {}).get("Ports", []))

    def settings(self, cid: str) -> dict[str, Any]:
        """`NetworkSettings` of `docker inspect`."""
        ep = rec.read_endpoint(self.dirs, cid) or {}
        ports: dict[str, list[dict[str, str]]] = {}
        for b in self.ports(cid):
            ports.setdefault(b.key, []).append(
                {"HostIp": b.host_ip or "0.0.0.0", "HostPort": str(b.host_port)}
            )
        networks = {
            att["NetworkName"]: {
                "NetworkID": net_id,
                "IPAddress": att["IPAddress"],
                "IPPrefixLen": att["Prefix"],
                "Gateway": att["Gateway"],
                "Aliases": att.get("Aliases", []),
            }
            for net_id, att in ep.get("Networks", {}).items()
        }
        first = next(iter(networks.values()), {})
        return {
            "SandboxKey": ep.get("Netns", ""),
            "Ports": ports,
            "IPAddress": first.get("IPAddress", ""),
            "IPPrefixLen": first.get("IPPrefixLen", 0),
            "Gateway": first.get("Gateway", ""),
            "Networks": networks,
        }


def _subnet(net: dict[str, Any]) -> ipam.Subnet:
    return ipam.subnet(net["IPAM"]["Config"][0]["Subnet"])


def _bridge(net: dict[str, Any]) -> str:
    return str(net["Options"]["com.docker.network.bridge.name"])


def bindings_of(record: dict[str, Any]) -> list[PortBinding]:
    """HostConfig.PortBindings (Docker's shape) as values."""
    out = []
    for key, binds in (record.get("HostConfig", {}).get("PortBindings") or {}).items():
        port, _, proto = key.partition("/")
        for b in binds or [{}]:
            out.append(
                PortBinding(
                    int(port), proto or "tcp", b.get("HostIp", ""), int(b.get("HostPort") or 0)
                )
            )
    return out


def link_env(alias: str, me: str, target: str, ip: str, record: dict[str, Any]) -> list[str]:
    """Docker's legacy link environment (moby `daemon/links`)."""
    prefix = alias.upper().replace("-", "_").replace(".", "_")
    exposed = set((record.get("Config", {}).get("ExposedPorts") or {}).keys())
    exposed |= set((record.get("HostConfig", {}).get("PortBindings") or {}).keys())
    ports = sorted(exposed, key=lambda k: (int(k.partition("/")[0]), k))
    env = [f"{prefix}_NAME=/{me}/{alias}"]
    for i, key in enumerate(ports):
        port, _, proto = key.partition("/")
        proto = proto or "tcp"
        url = f"{proto}://{ip}:{port}"
        if i == 0:
            env.append(f"{prefix}_PORT={url}")
        p = f"{prefix}_PORT_{port}_{proto.upper()}"
        env += [f"{p}={url}", f"{p}_ADDR={ip}", f"{p}_PORT={port}", f"{p}_PROTO={proto}"]
    for item in record.get("Config", {}).get("Env") or []:
        key, _, value = item.partition("=")
        if key not in ("HOME", "HOSTNAME", "PATH"):
            env.append(f"{prefix}_ENV_{key}={value}")
    return env
