"""The nftables side: one `table ip <name>` per store holds the NAT and forwarding rules of
all its networks and containers. Rules carry a comment (`net:<id>` or a container id) by
which they are found and deleted."""

from __future__ import annotations

from pycore.network import host

TYPE_CHECKING = False  # not typing's: importing typing costs every CLI start
if TYPE_CHECKING:
    from collections.abc import Iterable

    from pycore.network.ports import PortBinding


def ensure_table(table: str) -> None:
    """Create the table and its chains once (callers hold the store lock: the jumps below are
    not idempotent)."""
    if host.run(["nft", "list", "table", "ip", table], check=False):
        return
    host.nft(_table(table))


def create_table_with(table: str, rules: str) -> bool:
    """The table, its chains and `rules` in one transaction, if the table does not exist yet;
    False (and nothing changed) if it does. Lock held."""
    return host.nft_succeeds(f"create table ip {table}\n{_table(table)}{rules}")


def _table(table: str) -> str:
    return f"""table ip {table} {{
  chain ports {{
  }}
  chain prerouting {{
    type nat hook prerouting priority dstnat; policy accept;
    fib daddr type local jump ports
  }}
  chain output {{
    type nat hook output priority -100; policy accept;
    fib daddr type local jump ports
  }}
  chain postrouting {{
    type nat hook postrouting priority srcnat; policy accept;
  }}
  chain forward {{
    type filter hook forward priority filter; policy accept;
  }}
}}
"""


def network_rules(table: str, net_id: str, bridge: str, subnet: str, internal: bool) -> str:
    c = f'comment "net:{net_id}"'
    rules = [
        # Host loopback traffic DNAT-ed to a published port leaves through the bridge with
        # a 127.0.0.1 source: rewrite it, as Docker does without its userland proxy.
        f'add rule ip {table} postrouting oifname "{bridge}" ip saddr 127.0.0.0/8 masquerade {c}',
        # Hairpin: a container reaching a published port of its own bridge.
        f'add rule ip {table} postrouting iifname "{bridge}" oifname "{bridge}" '
        f"ct status dnat masquerade {c}",
    ]
    if internal:
        rules += [
            f'add rule ip {table} forward iifname "{bridge}" oifname != "{bridge}" drop {c}',
            f'add rule ip {table} forward oifname "{bridge}" iifname != "{bridge}" drop {c}',
        ]
    else:
        rules.append(
            f'add rule ip {table} postrouting ip saddr {subnet} oifname != "{bridge}" '
            f"masquerade {c}"
        )
    return "\n".join(rules) + "\n"


def port_rules(table: str, cid: str, address: str, ports: Iterable[PortBinding]) -> str:
    out = []
    for p in ports:
        match = f"ip daddr {p.host_ip} " if p.host_ip else ""
        out.append(
            f"add rule ip {table} ports {match}{p.proto} dport {p.host_port} "
            f'dnat to {address}:{p.container_port} comment "{cid}"'
        )
    return "\n".join(out) + "\n" if out else ""


def delete_tagged(table: str, tags: set[str]) -> None:
    """Delete every rule of `table` whose comment is one of `tags`."""
    items = host.nft_json("-a", "list", "table", "ip", table)
    dels = []
    for item in items:
        rule = item.get("rule")
        if isinstance(rule, dict) and rule.get("comment") in tags:
            dels.append(f"delete rule ip {table} {rule['chain']} handle {rule['handle']}")
    if dels:
        host.run(["nft", "-f", "-"], stdin="\n".join(dels) + "\n", check=False)


def delete_table(table: str) -> None:
    host.run(["nft", "delete", "table", "ip", table], check=False)


def table_exists(table: str) -> bool:
    return bool(host.run(["nft", "list", "table", "ip", table], check=False))
