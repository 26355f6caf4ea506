"""Links through netlink (pyroute2): the bridge of a network and the veth pair of an endpoint.

Blocking calls: run them in a worker thread. pyroute2 is imported here only, so the CLI and
the daemon's start-up never pay for it. A netlink socket is bound to the network namespace
it was opened in, so `in_netns()` opens one inside a sandbox (see netns.inside) and then
works from the daemon's namespace.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from typing import Any

from wharfie.errors import WharfieError
from wharfie.network import netns


def _ipr() -> Any:
    from pyroute2 import IPRoute

    # pyroute2 resets its logger to NOTSET on import; its DEBUG dumps every netlink message.
    logging.getLogger("pyroute2").setLevel(logging.WARNING)
    return IPRoute()


def in_netns(path: str) -> Any:
    with netns.inside(path):
        return _ipr()


def _sysctl(path: str, value: str) -> None:
    try:
        with open(path, "w") as fh:
            fh.write(value)
    except OSError:
        pass


def enable_forwarding() -> None:
    """Like dockerd: containers' traffic is routed through the host."""
    _sysctl("/proc/sys/net/ipv4/ip_forward", "1")


def exists(name: str) -> bool:
    return os.path.exists(f"/sys/class/net/{name}")


def is_bridge(name: str) -> bool:
    return os.path.isdir(f"/sys/class/net/{name}/bridge")


def _ready(name: str, gateway: str, prefixlen: int) -> bool:
    """Whether the bridge already exists, is up and has the gateway address as its primary one:
    two ioctls, so a restarting daemon doesn't import pyroute2 before it is ready."""
    import fcntl
    import socket
    import struct

    if not os.path.isdir(f"/sys/class/net/{name}/bridge"):
        return False
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            req = struct.pack("16s16x", name.encode())
            flags = struct.unpack("16sH14x", fcntl.ioctl(s, 0x8913, req))[1]  # SIOCGIFFLAGS
            addr = socket.inet_ntoa(fcntl.ioctl(s, 0x8915, req)[20:24])      # SIOCGIFADDR
            mask = socket.inet_ntoa(fcntl.ioctl(s, 0x891B, req)[20:24])      # SIOCGIFNETMASK
    except OSError:
        return False
    return bool(flags & 1) and addr == gateway and ipaddress.IPv4Network(f"0.0.0.0/{mask}").prefixlen == prefixlen


def ensure_bridge(name: str, gateway: str, prefixlen: int) -> None:
    """Create (or adopt) bridge `name` with `gateway/prefixlen` on it, up, and route_localnet on
    so DNAT'ed loopback connections (127.0.0.1:PORT → container) may leave through it."""
    if _ready(name, gateway, prefixlen):
        _sysctl(f"/proc/sys/net/ipv4/conf/{name}/route_localnet", "1")
        return
    with _ipr() as ipr:
        found = ipr.link_lookup(ifname=name)
        if not found:
            try:
                ipr.link("add", ifname=name, kind="bridge")
            except Exception as e:  # NetlinkError: a race with another creator is fine
                if not ipr.link_lookup(ifname=name):
                    raise WharfieError(f"could not create bridge {name}: {e}") from e
            found = ipr.link_lookup(ifname=name)
        if not is_bridge(name):  # never put an address (or route_localnet) on eth0 & co.
            raise WharfieError(f"{name} exists and is not a bridge")
        idx = found[0]
        have = {(a.get("address"), a["prefixlen"]) for a in ipr.get_addr(index=idx, family=2)}
        if (gateway, prefixlen) not in have:
            ipr.addr("add", index=idx, address=gateway, prefixlen=prefixlen)
        ipr.link("set", index=idx, state="up")
    _sysctl(f"/proc/sys/net/ipv4/conf/{name}/route_localnet", "1")


def delete_link(name: str) -> None:
    with _ipr() as ipr:
        found = ipr.link_lookup(ifname=name)
        if found:
            try:
                ipr.link("del", index=found[0])
            except Exception:  # gone meanwhile
                pass


def ports(name: str) -> list[str]:
    """The interfaces enslaved to bridge `name`."""
    try:
        return os.listdir(f"/sys/class/net/{name}/brif")
    except OSError:
        return []


def delete_bridge(name: str) -> None:
    """delete_link for a network's bridge: never anything else that took its name."""
    if is_bridge(name):
        delete_link(name)


def mac_for(ip: str) -> str:
    """Docker's rule: 02:42 and the four bytes of the IPv4 address."""
    return "02:42:" + ":".join(f"{b:02x}" for b in ipaddress.IPv4Address(ip).packed)


def attach(bridge: str, sandbox: str, host_if: str, address: str, prefixlen: int, gateway: str,
           mac: str, default_route: bool) -> str:
    """A veth pair: `host_if` on `bridge`, its peer moved into the sandbox as the next free
    ethN with the address (and the default route via `gateway`). Returns the name inside."""
    temp = "wt" + host_if[4:]
    with _ipr() as ipr:
        br = ipr.link_lookup(ifname=bridge)
        if not br:
            raise WharfieError(f"bridge {bridge} does not exist")
        for stale in (host_if, temp):
            if ipr.link_lookup(ifname=stale):
                ipr.link("del", index=ipr.link_lookup(ifname=stale)[0])
        ipr.link("add", ifname=host_if, kind="veth", peer=temp)
        host_idx = ipr.link_lookup(ifname=host_if)[0]
        peer_idx = ipr.link_lookup(ifname=temp)[0]
        try:
            ipr.link("set", index=host_idx, master=br[0])
            fd = os.open(sandbox, os.O_RDONLY | os.O_CLOEXEC)
            try:
                ipr.link("set", index=peer_idx, net_ns_fd=fd)
            finally:
                os.close(fd)
            ipr.link("set", index=host_idx, state="up")
            # hairpin: a container may reach itself through its own published port
            _sysctl(f"/sys/class/net/{host_if}/brport/hairpin_mode", "1")
        except BaseException:
            ipr.link("del", index=host_idx)
            raise
    try:
        with in_netns(sandbox) as ipr:
            names = {link.get("ifname") for link in ipr.get_links()}
            inner = next(f"eth{i}" for i in range(1000) if f"eth{i}" not in names)
            idx = ipr.link_lookup(ifname=temp)[0]
            ipr.link("set", index=idx, ifname=inner, address=mac)
            ipr.addr("add", index=idx, address=address, prefixlen=prefixlen)
            lo = ipr.link_lookup(ifname="lo")[0]
            ipr.link("set", index=lo, state="up")
            ipr.link("set", index=idx, state="up")
            if default_route and gateway:
                try:
                    ipr.route("replace", dst="0.0.0.0/0", gateway=gateway, oif=idx)
                except Exception as e:
                    raise WharfieError(f"could not set the default route via {gateway}: {e}") from e
    except BaseException:
        delete_link(host_if)  # its peer, inside, goes with it
        raise
    return inner


def ensure_default_route(sandbox: str, gateway: str) -> None:
    """A default route via `gateway` in the sandbox unless it still has one (the kernel drops
    an interface's routes with it: disconnecting the network that held it leaves none)."""
    if not netns.exists(sandbox):
        return
    with in_netns(sandbox) as ipr:
        if any(r["dst_len"] == 0 and r.get("table") == 254 for r in ipr.get_routes(family=2)):
            return
        try:
            ipr.route("replace", dst="0.0.0.0/0", gateway=gateway)
        except Exception as e:
            raise WharfieError(f"could not set the default route via {gateway}: {e}") from e


def detach(sandbox: str, address: str) -> None:
    """Delete the interface holding `address` inside the sandbox (its veth peer goes too)."""
    if not netns.exists(sandbox):
        return
    with in_netns(sandbox) as ipr:
        for a in ipr.get_addr(family=2):
            if a.get("address") == address:
                try:
                    ipr.link("del", index=a["index"])
                except Exception:
                    pass
                return


def routes_v4() -> list[ipaddress.IPv4Network]:
    """The host's IPv4 routes (to keep new subnets off networks the host already reaches)."""
    out = []
    with _ipr() as ipr:
        for r in ipr.get_routes(family=2):
            dst = r.get("dst")
            if dst and r["dst_len"] > 0:
                try:
                    out.append(ipaddress.IPv4Network(f"{dst}/{r['dst_len']}", strict=False))
                except ValueError:
                    pass
    return out
