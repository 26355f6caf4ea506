"""Published ports: from `PortBindings`/`PublishAllPorts` to concrete host ports.

Traffic goes through nftables DNAT (see nat.py), not through a proxy in the daemon, so a
published port keeps working while the daemon restarts. The daemon still *binds* (without
listening) a socket on every published host address and port: that reserves the port
against other programs, makes conflicts fail at start with Docker's message, and lets the
kernel choose ephemeral ports for `-P` / `-p 80`. After a restart the daemon binds them again.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from dataclasses import dataclass

from wharfie.errors import Conflict, InvalidArgument


@dataclass(frozen=True)
class Binding:
    proto: str
    host_ip: str
    host_port: int
    port: int


def split_port(key: str) -> tuple[int, str]:
    """`80/tcp` → (80, "tcp"); a bare `80` is tcp."""
    port, _, proto = key.partition("/")
    proto = (proto or "tcp").lower()
    if proto not in ("tcp", "udp", "sctp"):
        raise InvalidArgument(f"invalid proto: {proto}")
    try:
        n = int(port)
    except ValueError:
        raise InvalidArgument(f"invalid port: {key}") from None
    if not 0 < n < 65536:
        raise InvalidArgument(f"invalid port: {key}")
    return n, proto


def host_range(text: str) -> tuple[int, int]:
    """`""` → (0, 0) (ephemeral); `8080` → (8080, 8080); `8000-8010` → a range to choose from."""
    if not text:
        return 0, 0
    lo, _, hi = text.partition("-")
    try:
        a, b = int(lo), int(hi or lo)
    except ValueError:
        raise InvalidArgument(f"invalid host port: {text}") from None
    if not (0 <= a <= b < 65536):
        raise InvalidArgument(f"invalid host port: {text}")
    return a, b


def wanted(port_bindings: dict[str, list[dict[str, str]] | None] | None, publish_all: bool,
           exposed: dict[str, object] | None) -> list[tuple[str, int, str, tuple[int, int]]]:
    """(proto, container port, host ip, host port range) for every binding asked for."""
    out: list[tuple[str, int, str, tuple[int, int]]] = []
    seen: set[str] = set()
    for key, binds in (port_bindings or {}).items():
        port, proto = split_port(key)
        seen.add(f"{port}/{proto}")
        for b in binds or [{"HostIp": "", "HostPort": ""}]:
            out.append((proto, port, (b or {}).get("HostIp") or "", host_range((b or {}).get("HostPort") or "")))
    if publish_all:
        for key in exposed or {}:
            port, proto = split_port(key)
            if f"{port}/{proto}" not in seen:
                out.append((proto, port, "", (0, 0)))
    return out


class Reservations:
    """The bound (not listening) sockets holding published host ports, by owner."""

    def __init__(self) -> None:
        self.socks: dict[str, list[socket.socket]] = {}
        self.taken: dict[tuple[str, str, int], str] = {}  # (proto, ip, port) → owner
        self.lock = threading.Lock()  # containers start in parallel worker threads

    def _clash(self, proto: str, ip: str, port: int, owner: str) -> str | None:
        for (p, i, n), who in self.taken.items():
            if p == proto and n == port and who != owner and (i == ip or "0.0.0.0" in (i, ip)):
                return who
        return None

    def _bind(self, proto: str, ip: str, port: int) -> socket.socket:
        kind = socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM
        s = socket.socket(socket.AF_INET, kind)
        try:
            s.bind((ip, port))
        except OSError:
            s.close()
            raise
        return s

    def reserve(self, owner: str, proto: str, ip: str, rng: tuple[int, int]) -> int:
        with self.lock:
            return self._reserve(owner, proto, ip, rng)

    def _reserve(self, owner: str, proto: str, ip: str, rng: tuple[int, int]) -> int:
        ip = ip or "0.0.0.0"
        if ":" in ip:
            raise InvalidArgument(f"IPv6 host addresses are not supported: {ip}")
        try:  # it ends up in an nft rule: nothing but a plain address gets that far
            ip = str(ipaddress.IPv4Address(ip))
        except ValueError:
            raise InvalidArgument(f"invalid host IP address: {ip!r}") from None
        lo, hi = rng
        candidates = [0] if lo == 0 else list(range(lo, hi + 1))
        last: OSError | None = None
        for port in candidates:
            if port and self._clash(proto, ip, port, owner):
                continue
            if proto == "sctp":
                if port == 0:
                    raise InvalidArgument("sctp ports must be given explicitly")
                self.taken[(proto, ip, port)] = owner
                return port
            try:
                s = self._bind(proto, ip, port)
            except OSError as e:
                last = e
                continue
            got = s.getsockname()[1]
            self.socks.setdefault(owner, []).append(s)
            self.taken[(proto, ip, got)] = owner
            return got
        shown = f"{lo}" if lo == hi else f"{lo}-{hi}"
        if last is not None and last.errno == 99:  # EADDRNOTAVAIL
            raise InvalidArgument(f"Error starting userland proxy: listen {proto} {ip}:{shown}: bind: "
                                  "cannot assign requested address")
        raise Conflict(f"Bind for {ip}:{shown} failed: port is already allocated")

    def release(self, owner: str) -> None:
        with self.lock:
            for s in self.socks.pop(owner, []):
                s.close()
            self.taken = {k: v for k, v in self.taken.items() if v != owner}


def ports_doc(bindings: list[Binding], exposed: dict[str, object] | None) -> dict[str, list[dict[str, str]] | None]:
    """`NetworkSettings.Ports`: every exposed port, with its host bindings or null."""
    out: dict[str, list[dict[str, str]] | None] = {}
    for key in exposed or {}:
        port, proto = split_port(key)
        out[f"{port}/{proto}"] = None
    for b in bindings:
        lst = out.get(f"{b.port}/{b.proto}") or []
        lst.append({"HostIp": b.host_ip or "0.0.0.0", "HostPort": str(b.host_port)})
        out[f"{b.port}/{b.proto}"] = lst
    return out


def summary_ports(ports: dict[str, list[dict[str, str]] | None] | None) -> list[dict[str, object]]:
    """`GET /containers/json` Ports: `[{IP, PrivatePort, PublicPort, Type}]`."""
    out: list[dict[str, object]] = []
    for key, binds in (ports or {}).items():
        port, proto = split_port(key)
        if not binds:
            out.append({"PrivatePort": port, "Type": proto})
            continue
        for b in binds:
            out.append({"IP": b.get("HostIp") or "0.0.0.0", "PrivatePort": port,
                        "PublicPort": int(b.get("HostPort") or 0), "Type": proto})
    return out
