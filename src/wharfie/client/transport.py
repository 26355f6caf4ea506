"""HTTP/1.1 connections to the daemon: UNIX socket or TCP, on stdlib ``http.client``."""

from __future__ import annotations

import http.client
import socket

from wharfie.errors import InvalidArgument

#: The Host header the docker client sends over a UNIX socket (client.DummyHost).
DUMMY_HOST = "api.moby.localhost"
_BLOCKSIZE = 64 * 1024


class UnixHTTPConnection(http.client.HTTPConnection):
    """An HTTPConnection whose transport is a UNIX stream socket."""

    def __init__(self, path: str, timeout: float | None = None) -> None:
        super().__init__(DUMMY_HOST, timeout=timeout, blocksize=_BLOCKSIZE)
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            if self.timeout is not None:
                sock.settimeout(self.timeout)
            sock.connect(self.socket_path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


class HostAddress:
    """A parsed daemon address: ``unix:///path`` or ``tcp://host:port``."""

    def __init__(self, url: str) -> None:
        self.url = url
        if url.startswith("unix://"):
            self.proto = "unix"
            self.path = url[len("unix://") :]
            if not self.path:
                raise InvalidArgument(f"unable to parse docker host `{url}`")
            self.host = ""
            self.port = 0
            return
        if url.startswith("tcp://") or url.startswith("http://"):
            rest = url.split("://", 1)[1].split("/", 1)[0]
            if rest.startswith("["):
                host, _, tail = rest[1:].partition("]")
                port = tail[1:] if tail.startswith(":") else "2375"
            elif ":" in rest:
                host, port = rest.rsplit(":", 1)
            else:
                host, port = rest, "2375"
            try:
                self.port = int(port or "2375")
            except ValueError:
                raise InvalidArgument(f"unable to parse docker host `{url}`") from None
            self.host = host or "127.0.0.1"
            self.proto = "tcp"
            self.path = ""
            return
        raise InvalidArgument(f"unable to parse docker host `{url}`")

    @property
    def host_header(self) -> str:
        if self.proto == "unix":
            return DUMMY_HOST
        return f"{self.host}:{self.port}"

    def dial(self) -> socket.socket:
        """A connected stream socket to the daemon (for hijacked connections)."""
        if self.proto == "unix":
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(self.path)
            except BaseException:
                sock.close()
                raise
            return sock
        sock = socket.create_connection((self.host, self.port))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        return sock

    def connection(self, timeout: float | None = None) -> http.client.HTTPConnection:
        if self.proto == "unix":
            return UnixHTTPConnection(self.path, timeout=timeout)
        return http.client.HTTPConnection(
            self.host, self.port, timeout=timeout, blocksize=_BLOCKSIZE
        )
