"""IP address management: subnets for new networks and addresses inside them.

The pure choices are here (which subnet, which address); `NetworkStore` persists what was
chosen, so an address is never handed out twice, across daemon restarts too.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from wharfie.errors import Conflict, InvalidArgument

IPv4Net = ipaddress.IPv4Network


@dataclass(frozen=True)
class Pool:
    base: IPv4Net
    size: int  # prefix length of each subnet carved from base

    @classmethod
    def parse(cls, item: object) -> Pool:
        """`{"base": "10.90.0.0/15", "size": 24}` (daemon.json) or `base=…,size=…` (flag)."""
        if isinstance(item, str):
            item = dict(kv.split("=", 1) for kv in item.split(",") if "=" in kv)
        if not isinstance(item, dict) or "base" not in item:
            raise InvalidArgument(f"invalid default address pool: {item!r}")
        try:
            base = ipaddress.IPv4Network(str(item["base"]), strict=False)
            size = int(item.get("size") or base.prefixlen)
        except ValueError as e:
            raise InvalidArgument(f"invalid default address pool {item!r}: {e}") from None
        if size < base.prefixlen or size > 30:
            raise InvalidArgument(f"invalid default address pool {item!r}: size must be in "
                                  f"[{base.prefixlen}, 30]")
        return cls(base, size)


def parse_subnet(text: str) -> IPv4Net:
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise InvalidArgument(f"invalid subnet {text}: invalid CIDR address: {text}") from None
    if not isinstance(net, ipaddress.IPv4Network):
        raise InvalidArgument(f"IPv6 subnets are not supported: {text}")
    if net.prefixlen > 30:
        raise InvalidArgument(f"subnet {text} is too small for a network")
    return net


def overlaps(net: IPv4Net, others: Iterable[IPv4Net]) -> IPv4Net | None:
    return next((o for o in others if net.overlaps(o)), None)


def pick_subnet(pools: list[Pool], taken: list[IPv4Net]) -> IPv4Net:
    """The first subnet of the pools that overlaps nothing taken (other networks, host routes)."""
    for pool in pools:
        for net in pool.base.subnets(new_prefix=pool.size):
            if overlaps(net, taken) is None:
                return net
    raise Conflict("could not find an available, non-overlapping IPv4 address pool among the "
                   "defaults to assign to the network")


def default_gateway(subnet: IPv4Net) -> str:
    return str(subnet.network_address + 1)


def check_address(subnet: IPv4Net, address: str, what: str = "address") -> str:
    try:
        ip = ipaddress.IPv4Address(address)
    except ValueError:
        raise InvalidArgument(f"invalid {what}: {address}") from None
    if ip not in subnet or ip in (subnet.network_address, subnet.broadcast_address):
        raise InvalidArgument(f"invalid {what} {address}: it is not a host address of {subnet}")
    return str(ip)


def next_free(subnet: IPv4Net, used: set[str], within: IPv4Net | None = None) -> str:
    """The lowest free host address (the gateway is among `used`), inside `within` if given."""
    for ip in (within or subnet).hosts():
        if ip in subnet and ip not in (subnet.network_address, subnet.broadcast_address) and str(ip) not in used:
            return str(ip)
    raise Conflict(f"no available IPv4 addresses on this network's address pools: {subnet}")
