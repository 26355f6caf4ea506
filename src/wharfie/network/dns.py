"""The embedded DNS resolver of user-defined networks (Docker's 127.0.0.11).

For each container on a user-defined network the daemon opens a UDP and a TCP socket *inside
the container's network namespace*, bound to 127.0.0.11:53 (127/8 is on `lo`, so no DNAT is
needed), and serves them from its event loop; the container's resolv.conf names 127.0.0.11.
Names of containers on the same networks (container name, network aliases, short ID) are
answered from the daemon's state; every other question is forwarded, from the host's
namespace, to the host's resolvers (or the container's `--dns` servers). The sockets die
with the daemon; a restarted daemon opens them again for each running container.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
from collections.abc import Callable

log = logging.getLogger("wharfie.network.dns")

ADDRESS = "127.0.0.11"
QTYPE_A = 1
QTYPE_PTR = 12
TTL = 600
MAX_INFLIGHT = 32    # per resolver: queries beyond this are dropped (the client retries)
MAX_TCP_CLIENTS = 32
MAX_FORWARDS = 256   # all resolvers together: forwards (one socket each) beyond this get SERVFAIL
_forwarding = 0      # forwards in flight (event loop only)

# qname (lower case, no trailing dot) → addresses (A) or names (PTR), or None if not ours.
Lookup = Callable[[str], list[str] | None]


class BadMessage(ValueError):
    pass


def parse_question(msg: bytes) -> tuple[int, int, str, int, int]:
    """(id, flags, qname, qtype, end of the question section)."""
    if len(msg) < 12:
        raise BadMessage("short header")
    ident, flags, qdcount = struct.unpack(">HHH", msg[:6])
    if qdcount != 1:
        raise BadMessage("not one question")
    labels, pos = [], 12
    while True:
        if pos >= len(msg):
            raise BadMessage("truncated name")
        n = msg[pos]
        pos += 1
        if n == 0:
            break
        if n & 0xC0:
            raise BadMessage("compressed question")
        labels.append(msg[pos:pos + n].decode("ascii", errors="replace"))
        pos += n
    if pos + 4 > len(msg):
        raise BadMessage("truncated question")
    qtype, _qclass = struct.unpack(">HH", msg[pos:pos + 4])
    return ident, flags, ".".join(labels).lower(), qtype, pos + 4


def answer(msg: bytes, addresses: list[str], rcode: int = 0) -> bytes:
    """A response to the query `msg` with A records for `addresses`."""
    ident, flags, _name, qtype, end = parse_question(msg)
    rd = flags & 0x0100
    opcode = flags & 0x7800
    out_flags = 0x8000 | opcode | 0x0400 | rd | 0x0080 | rcode  # QR, AA, RD, RA
    records = addresses if qtype in (QTYPE_A, QTYPE_PTR) else []
    head = struct.pack(">HHHHHH", ident, out_flags, 1, len(records), 0, 0)
    body = msg[12:end]
    for a in records:
        if qtype == QTYPE_PTR:
            rdata = encode_name(a)
            body += struct.pack(">HHHIH", 0xC00C, QTYPE_PTR, 1, TTL, len(rdata)) + rdata
        else:
            body += struct.pack(">HHHIH", 0xC00C, QTYPE_A, 1, TTL, 4) + socket.inet_aton(a)
    return head + body


def encode_name(name: str) -> bytes:
    """Wire format; BadMessage for a label over 63 bytes or a name over 255 (RFC 1035)."""
    labels = [p.encode() for p in name.strip(".").split(".") if p]
    if any(len(p) > 63 for p in labels):
        raise BadMessage(f"label too long in {name!r}")
    out = b"".join(bytes([len(p)]) + p for p in labels) + b"\0"
    if len(out) > 255:
        raise BadMessage(f"name too long: {name!r}")
    return out


def reverse_address(qname: str) -> str | None:
    """`4.3.2.1.in-addr.arpa` → `1.2.3.4` (None for anything else)."""
    if not qname.endswith(".in-addr.arpa"):
        return None
    parts = qname[: -len(".in-addr.arpa")].split(".")
    if len(parts) != 4 or not all(p.isdigit() and int(p) < 256 for p in parts):
        return None
    return ".".join(reversed(parts))


def servfail(msg: bytes) -> bytes | None:
    try:
        return answer(msg, [], rcode=2)
    except BadMessage:
        return None


async def forward_udp(query: bytes, servers: list[str]) -> bytes | None:
    loop = asyncio.get_running_loop()
    for server in servers:
        s = socket.socket(socket.AF_INET6 if ":" in server else socket.AF_INET, socket.SOCK_DGRAM)
        s.setblocking(False)
        try:
            await loop.sock_connect(s, (server, 53))
            await loop.sock_sendall(s, query)
            return await asyncio.wait_for(loop.sock_recv(s, 65535), 3)
        except (OSError, TimeoutError):
            continue
        finally:
            s.close()
    return None


async def forward_tcp(query: bytes, servers: list[str]) -> bytes | None:
    for server in servers:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(server, 53), 3)
        except (OSError, TimeoutError):
            continue
        try:
            writer.write(struct.pack(">H", len(query)) + query)
            await writer.drain()
            n = struct.unpack(">H", await asyncio.wait_for(reader.readexactly(2), 5))[0]
            return await asyncio.wait_for(reader.readexactly(n), 5)
        except (OSError, TimeoutError, asyncio.IncompleteReadError):
            continue
        finally:
            writer.close()
    return None


async def resolve(query: bytes, lookup: Lookup, servers: Callable[[], list[str]], tcp: bool) -> bytes | None:
    """The reply to `query` (None for a message that isn't one); SERVFAIL when anything fails."""
    try:
        parse_question(query)
    except BadMessage:
        return None
    try:
        return await _resolve(query, lookup, servers, tcp)
    except asyncio.CancelledError:
        raise
    except Exception as e:
        log.warning("dns: %s", e)
        return servfail(query)


async def _resolve(query: bytes, lookup: Lookup, servers: Callable[[], list[str]], tcp: bool) -> bytes | None:
    global _forwarding
    _ident, _flags, name, qtype, _end = parse_question(query)
    name = name.rstrip(".")
    if qtype == QTYPE_PTR:
        address = reverse_address(name)
        found = lookup(f"ptr:{address}") if address else None
    else:
        found = lookup(name)
    if found is not None:
        return answer(query, found)
    if _forwarding >= MAX_FORWARDS:  # bounded sockets (fds) whatever the containers send
        return servfail(query)
    _forwarding += 1
    try:
        reply = await (forward_tcp if tcp else forward_udp)(query, servers())
    finally:
        _forwarding -= 1
    return reply if reply is not None else servfail(query)


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, server: Resolver) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if len(self.server.tasks) >= MAX_INFLIGHT:
            return  # a container flooding its resolver only hurts itself
        task = asyncio.ensure_future(self._reply(data, addr))
        self.server.tasks.add(task)
        task.add_done_callback(self.server.tasks.discard)

    async def _reply(self, data: bytes, addr: tuple[str, int]) -> None:
        reply = await resolve(data, self.server.lookup, self.server.servers, tcp=False)
        if reply is not None and self.transport is not None and not self.transport.is_closing():
            if len(reply) > 512:  # classic UDP limit: the question only, TC set; the client uses TCP
                end = parse_question(data)[4]
                reply = reply[:2] + bytes([reply[2] | 0x02, reply[3]]) + struct.pack(">HHHH", 1, 0, 0, 0) + data[12:end]
            self.transport.sendto(reply, addr)


class Resolver:
    """The 127.0.0.11 resolver of one sandbox: sockets made in its namespace, served here."""

    def __init__(self, udp: socket.socket, tcp: socket.socket, lookup: Lookup,
                 servers: Callable[[], list[str]]) -> None:
        self.udp_sock, self.tcp_sock = udp, tcp
        self.lookup, self.servers = lookup, servers
        self.tasks: set[asyncio.Future[None]] = set()
        self.tcp_clients = 0
        self.udp: asyncio.DatagramTransport | None = None
        self.tcp: asyncio.base_events.Server | None = None

    @staticmethod
    def open_sockets() -> tuple[socket.socket, socket.socket]:
        """Call with the thread inside the sandbox's namespace (netns.inside)."""
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            for s in (udp, tcp):
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind((ADDRESS, 53))
                s.setblocking(False)
            tcp.listen(64)
        except OSError:
            udp.close()
            tcp.close()
            raise
        return udp, tcp

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: _Udp(self), sock=self.udp_sock)
        self.udp = transport
        self.tcp = await asyncio.start_server(self._tcp_client, sock=self.tcp_sock)

    async def _tcp_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.tcp_clients >= MAX_TCP_CLIENTS:
            writer.close()
            return
        self.tcp_clients += 1
        try:
            while True:
                n = struct.unpack(">H", await asyncio.wait_for(reader.readexactly(2), 30))[0]
                query = await asyncio.wait_for(reader.readexactly(n), 10)
                reply = await resolve(query, self.lookup, self.servers, tcp=True)
                if reply is None:
                    break
                if len(reply) > 0xFFFF:  # can't be framed
                    reply = servfail(query) or b""
                writer.write(struct.pack(">H", len(reply)) + reply)
                await writer.drain()
        except (OSError, TimeoutError, asyncio.IncompleteReadError):
            pass
        finally:
            self.tcp_clients -= 1
            writer.close()

    def close(self) -> None:
        if self.udp is not None:
            self.udp.close()
        else:
            self.udp_sock.close()
        if self.tcp is not None:
            self.tcp.close()
        else:
            self.tcp_sock.close()
        for t in list(self.tasks):
            t.cancel()


_servers_cache: tuple[float, list[str]] = (0.0, [])


def host_servers(resolv_conf: str = "/etc/resolv.conf") -> list[str]:
    """The host's resolvers (re-read at most every 5 s: this runs on the event loop)."""
    import time

    global _servers_cache
    now = time.monotonic()
    if now - _servers_cache[0] < 5 and _servers_cache[1]:
        return _servers_cache[1]
    try:
        with open(resolv_conf) as fh:
            text = fh.read()
    except OSError:
        return _servers_cache[1]
    servers = [line.split()[1] for line in text.splitlines()
               if line.startswith("nameserver") and len(line.split()) > 1]
    _servers_cache = (now, servers)
    return servers
