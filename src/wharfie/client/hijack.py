"""Hijacked connections: ``attach`` and ``exec start`` upgrade HTTP to a raw stream.

The request goes out with ``Connection: Upgrade`` and ``Upgrade: tcp``; the daemon
must answer ``101`` (anything else is docker's "unable to upgrade to tcp, received
N"). After the response headers the socket carries raw bytes both ways: the
container's output (docker's 8-byte framed stream unless the container has a TTY,
see :func:`demux_frames`) and our stdin, half-closed with ``shutdown(SHUT_WR)``
when it ends.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator, Mapping

from wharfie.errors import WharfieError

#: stdcopy stream ids
STDIN, STDOUT, STDERR, SYSTEMERR = 0, 1, 2, 3
_HEADER = 8
_MAX_HEADER_BYTES = 64 * 1024


class HijackedConnection:
    """The raw socket after a ``101``, plus any bytes read past the headers."""

    def __init__(self, sock: socket.socket, pending: bytes, media_type: str) -> None:
        self.sock = sock
        self._pending = pending
        self.media_type = media_type
        self._closed = False

    def recv(self, size: int = 64 * 1024) -> bytes:
        """Bytes from the daemon; ``b""`` at end of stream."""
        if self._pending:
            data, self._pending = self._pending[:size], self._pending[size:]
            return data
        try:
            return self.sock.recv(size)
        except OSError:
            if self._closed:
                return b""
            raise

    def iter_chunks(self, size: int = 64 * 1024) -> Iterator[bytes]:
        while True:
            data = self.recv(size)
            if not data:
                return
            yield data

    def sendall(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close_write(self) -> None:
        """Half-close: tell the daemon our stdin ended (``CloseWrite``)."""
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def build_request(method: str, url: str, headers: Mapping[str, str], body: bytes) -> bytes:
    lines = [f"{method} {url} HTTP/1.1"]
    for key, value in headers.items():
        lines.append(f"{key}: {value}")
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def read_response_head(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Read a status line and headers; returns (status, headers, bytes past them)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        if len(buf) > _MAX_HEADER_BYTES:
            raise WharfieError("error during connect: response headers too long")
        chunk = sock.recv(4096)
        if not chunk:
            raise WharfieError("error during connect: EOF")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/"):
        raise WharfieError(f"error during connect: malformed HTTP response {lines[0]!r}")
    try:
        status = int(parts[1])
    except ValueError:
        raise WharfieError(
            f"error during connect: malformed HTTP status code {parts[1]!r}") from None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        key, sep, value = line.partition(":")
        if sep:
            headers[key.strip().lower()] = value.strip()
    return status, headers, rest


class FrameDemuxer:
    """docker's ``stdcopy.StdCopy`` as an incremental parser.

    Feed it bytes; it yields ``(stream, payload)``. Stream 0 (stdin) is reported as
    stdout like docker does; stream 3 (systemerr) is returned for the caller to
    turn into an error.
    """

    def __init__(self) -> None:
        self._buf = b""

    def feed(self, data: bytes) -> Iterator[tuple[int, bytes]]:
        self._buf += data
        while len(self._buf) >= _HEADER:
            stream = self._buf[0]
            (size,) = struct.unpack(">I", self._buf[4:8])
            if len(self._buf) < _HEADER + size:
                return
            payload = self._buf[_HEADER : _HEADER + size]
            self._buf = self._buf[_HEADER + size :]
            if stream not in (STDIN, STDOUT, STDERR, SYSTEMERR):
                raise WharfieError(f"Unrecognized input header: {stream}")
            yield (STDOUT if stream == STDIN else stream), payload

    @property
    def pending(self) -> int:
        return len(self._buf)


def demux_frames(chunks: Iterator[bytes]) -> Iterator[tuple[int, bytes]]:
    """Split a multiplexed stream into ``(stream, payload)`` frames."""
    demuxer = FrameDemuxer()
    for chunk in chunks:
        yield from demuxer.feed(chunk)


__all__ = ["HijackedConnection", "FrameDemuxer", "demux_frames", "STDOUT", "STDERR"]
