"""nftables: outbound masquerade, published-port DNAT and internal-network isolation.

The daemon owns one table (`ip <table>`, named after its default bridge so two daemons on
one host never touch each other's rules). Its whole content is a function of the daemon's
state (networks, running containers' published ports), so every change re-renders the table
and replaces it in one atomic `nft -f` transaction: no rule handles to track, nothing stale
left after a crash, and a restarted daemon simply renders the same table again. The rules
stay in the kernel while the daemon is down, so published ports keep working.

Published ports are DNAT (no userland proxy): `prerouting` catches traffic from outside and
from other namespaces, `output` catches the host's own connections (127.0.0.1:PORT too —
the bridge has route_localnet on, and `postrouting` masquerades loopback sources leaving
through it, so the container answers the gateway).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from dataclasses import dataclass

from wharfie.errors import WharfieError

_lock = threading.Lock()


@dataclass(frozen=True)
class NetRules:
    bridge: str
    subnet: str
    internal: bool
    masquerade: bool = True  # com.docker.network.bridge.enable_ip_masquerade


@dataclass(frozen=True)
class PortRule:
    proto: str       # tcp | udp
    host_ip: str     # "" or "0.0.0.0" = every local address
    host_port: int
    addr: str        # container address
    port: int        # container port


def render(table: str, nets: list[NetRules], ports: list[PortRule]) -> str:
    lines = [f"table ip {table} {{"]
    # route_localnet (needed for 127.0.0.1:PORT) would also let a container reach the host's
    # loopback services by sending to 127.x through the bridge (CVE-2020-8558), and the DNAT
    # below runs before the kernel's martian check: a LAN host sending to 127.0.0.1:PORT would
    # reach a port published on 127.0.0.1 only. 127/8 arrives through `lo` or not at all.
    lines += ["  chain raw_prerouting {", "    type filter hook prerouting priority raw; policy accept;",
              '    iifname != "lo" ip daddr 127.0.0.0/8 drop', "  }"]
    lines += ["  chain prerouting {", "    type nat hook prerouting priority dstnat; policy accept;",
              "    fib daddr type local jump ports", "  }",
              "  chain output {", "    type nat hook output priority -100; policy accept;",
              "    fib daddr type local jump ports", "  }",
              "  chain ports {"]
    for p in ports:
        match = "" if p.host_ip in ("", "0.0.0.0") else f"ip daddr {p.host_ip} "
        lines.append(f"    {match}{p.proto} dport {p.host_port} dnat to {p.addr}:{p.port}")
    lines += ["  }", "  chain postrouting {", "    type nat hook postrouting priority srcnat; policy accept;"]
    for n in nets:
        lines.append(f'    oifname "{n.bridge}" ip saddr 127.0.0.0/8 masquerade')
        # hairpin: a container reaching a published port through a host address lands on its
        # own bridge; answer from the gateway so the reply comes back the way it went
        lines.append(f'    oifname "{n.bridge}" ip saddr {n.subnet} ct status dnat masquerade')
        if not n.internal and n.masquerade:
            lines.append(f'    ip saddr {n.subnet} oifname != "{n.bridge}" masquerade')
    lines += ["  }", "  chain forward {", "    type filter hook forward priority filter; policy accept;"]
    for n in nets:  # networks are isolated from each other (Docker's DOCKER-ISOLATION chains)
        others = ", ".join(f'"{o.bridge}"' for o in nets if o.bridge != n.bridge)
        if others:
            lines.append(f'    iifname "{n.bridge}" oifname {{ {others} }} reject')
    for n in nets:
        if n.internal:
            lines.append(f'    iifname "{n.bridge}" oifname != "{n.bridge}" reject')
            lines.append(f'    oifname "{n.bridge}" iifname != "{n.bridge}" reject')
        else:  # from elsewhere into the bridge: published ports and replies only (not the LAN
            # reaching every port of every container); same-bridge and outbound traffic pass
            lines.append(f'    oifname "{n.bridge}" iifname != "{n.bridge}" ct status dnat accept')
            lines.append(f'    oifname "{n.bridge}" iifname != "{n.bridge}" ct state established,related accept')
            lines.append(f'    oifname "{n.bridge}" iifname != "{n.bridge}" drop')
    lines += ["  }", "}"]
    return "\n".join(lines) + "\n"


def available() -> bool:
    try:
        nft()
        return True
    except WharfieError:
        return False


def nft() -> str:
    found = shutil.which("nft") or next((p for p in ("/usr/sbin/nft", "/sbin/nft") if os.path.exists(p)), None)
    if not found:
        raise WharfieError("nft not found: install Debian's nftables package")
    return found


def _run(script: str) -> None:
    p = subprocess.run([nft(), "-f", "-"], input=script.encode(), capture_output=True)
    if p.returncode != 0:
        raise WharfieError(f"nft: {p.stderr.decode(errors='replace').strip()}")


def apply(table: str, nets: list[NetRules], ports: list[PortRule]) -> None:
    """Replace the table's content atomically (create, flush-by-delete and re-add in one go)."""
    with _lock:
        _run(f"table ip {table}\ndelete table ip {table}\n" + render(table, nets, ports))


def delete(table: str) -> None:
    with _lock:
        _run(f"table ip {table}\ndelete table ip {table}\n")
