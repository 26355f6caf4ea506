"""The Engine API server: version prefixes, routing, error mapping, listeners.

Routes are registered by the `wharfie.api.routes.*` modules as (method, pattern, handler).
Paths may carry `/v1.24`…`/v1.50` or no version; newer versions are refused like dockerd.
Every response carries the headers dockerd's middlewares add (Api-Version, Ostype, …).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import socket
import stat
from collections.abc import Callable
from dataclasses import dataclass

from wharfie import API_VERSION, MIN_API_VERSION, __version__
from wharfie.api.http import Connection, Handler, Hijack, Request, Response, json_response
from wharfie.errors import InvalidArgument, WharfieError

log = logging.getLogger("wharfie.api")

_VERSION_PREFIX = re.compile(r"^/v(\d+\.\d+)(/.*)$")

COMMON_HEADERS = [
    ("Server", f"wharfie/{__version__} (linux)"),
    ("Api-Version", API_VERSION),
    ("Ostype", "linux"),
    ("Docker-Experimental", "false"),
]


def version_tuple(v: str) -> tuple[int, ...]:
    return tuple(int(p) for p in v.split("."))


def version_at_least(request: Request, v: str) -> bool:
    return version_tuple(request.api_version) >= version_tuple(v)


@dataclass
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler


class Router:
    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(self, method: str, path: str, handler: Handler) -> None:
        """`path` uses `{name}` for one segment and `{name:path}` for a slash-spanning one."""
        rx = re.sub(r"\{(\w+):path\}", r"(?P<\1>.+)", path)
        rx = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", rx)
        self.routes.append(Route(method, re.compile(f"^{rx}$"), handler))

    def route(self, method: str, path: str) -> Callable[[Handler], Handler]:
        def deco(fn: Handler) -> Handler:
            self.add(method, path, fn)
            if method == "GET":
                self.add("HEAD", path, fn)
            return fn

        return deco

    def match(self, method: str, path: str) -> tuple[Handler, dict[str, str]] | None:
        for r in self.routes:
            if r.method == method:
                m = r.pattern.match(path)
                if m:
                    return r.handler, m.groupdict()
        return None


def error_response(status: int, message: str) -> Response:
    return json_response({"message": message}, status)


class ApiServer:
    def __init__(self, router: Router) -> None:
        self.router = router
        self.servers: list[asyncio.AbstractServer] = []
        self.unix_paths: list[str] = []
        self.connections: set[asyncio.Task[None]] = set()

    async def dispatch(self, request: Request) -> Response | Hijack:
        path = request.path
        m = _VERSION_PREFIX.match(path)
        if m:
            version, path = m.group(1), m.group(2)
            if version_tuple(version) > version_tuple(API_VERSION):
                return error_response(
                    400,
                    f"client version {version} is too new. Maximum supported API version is {API_VERSION}",
                )
            if version_tuple(version) < version_tuple(MIN_API_VERSION):
                return error_response(
                    400,
                    f"client version {version} is too old. Minimum supported API version is "
                    f"{MIN_API_VERSION}, please upgrade your client to a newer version",
                )
            request.api_version = version
        else:
            request.api_version = API_VERSION
        found = self.router.match(request.method, path.rstrip("/") or "/")
        if found is None:
            return error_response(404, "page not found")
        handler, params = found
        request.params = params
        try:
            return await handler(request)
        except WharfieError as e:
            if e.status >= 500:
                log.error("%s %s: %s", request.method, request.path, e)
            return error_response(e.status, str(e))
        except asyncio.CancelledError:
            raise
        except Exception as e:
            log.exception("%s %s failed", request.method, request.path)
            return error_response(500, f"{type(e).__name__}: {e}")

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.connections.add(task)
        try:
            await Connection(reader, writer, self.dispatch, COMMON_HEADERS).serve()
        finally:
            self.connections.discard(task)

    async def listen(self, address: str, group: int | None = None) -> None:
        """Listen on `unix:///path` or `tcp://host:port` (dockerd's -H syntax)."""
        if address.startswith("unix://"):
            path = address[len("unix://"):]
            sock = bind_unix_socket(path, group)
            self.unix_paths.append(path)
            server = await asyncio.start_unix_server(self._on_client, sock=sock, limit=1 << 20)
        elif address.startswith("tcp://"):
            host, _, port = address[len("tcp://"):].rpartition(":")
            if not host or not port.isdigit():
                raise InvalidArgument(f"invalid tcp address {address!r}: want tcp://HOST:PORT")
            log.warning("API listening on %s without TLS: anyone who can reach it is root", address)
            server = await asyncio.start_server(
                self._on_client, host.strip("[]"), int(port), limit=1 << 20, reuse_address=True
            )
        else:
            raise InvalidArgument(f"invalid host {address!r}: want unix:///PATH or tcp://HOST:PORT")
        self.servers.append(server)
        log.info("API listening on %s", address)

    async def close(self) -> None:
        for s in self.servers:
            s.close()
        for t in list(self.connections):
            t.cancel()
        for s in self.servers:
            await s.wait_closed()


def bind_unix_socket(path: str, group: int | None) -> socket.socket:
    """Bind a root-only socket (0660, group-readable only when a group is configured).

    A socket file left by a crashed daemon is removed; a live one means another daemon
    owns the path, which is refused.
    """
    if os.path.lexists(path):
        if not stat.S_ISSOCK(os.lstat(path).st_mode):
            raise InvalidArgument(f"{path} exists and is not a socket")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(path)
        except OSError:
            os.unlink(path)  # stale: nobody is listening
        else:
            raise InvalidArgument(f"another daemon is already listening on unix://{path}")
        finally:
            probe.close()
    os.makedirs(os.path.dirname(path) or ".", mode=0o755, exist_ok=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o177)  # never expose the socket, even for an instant
    try:
        sock.bind(path)
    finally:
        os.umask(old_umask)
    os.chown(path, 0, group if group is not None else 0)
    os.chmod(path, 0o660)
    sock.listen(128)
    return sock
