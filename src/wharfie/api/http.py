"""HTTP/1.1 server plumbing on asyncio + h11 (sans-IO).

One `Connection` per accepted socket serves requests in a keep-alive loop. A handler gets a
`Request` whose body it may stream (chunked request bodies are decoded by h11) and returns a
`Response` whose body is bytes or an async iterator (sent chunked). Nothing here knows about
Docker: routing, versions and errors live in `wharfie.api.server`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import h11

from wharfie.errors import InvalidArgument

log = logging.getLogger("wharfie.api")

READ_SIZE = 256 * 1024
_STATUSES = {s.value for s in HTTPStatus}
MAX_JSON_BODY = 16 * 1024 * 1024


class Request:
    """A request whose body is pulled lazily from the connection."""

    def __init__(self, conn: Connection, event: h11.Request) -> None:
        self._conn = conn
        self.method = event.method.decode()
        target = event.target.decode("latin-1")
        parts = urlsplit(target)
        self.path = unquote(parts.path)
        self.query: dict[str, list[str]] = parse_qs(parts.query, keep_blank_values=True)
        self.headers: dict[str, str] = {k.decode().lower(): v.decode("latin-1") for k, v in event.headers}
        self.params: dict[str, str] = {}
        self.api_version = ""  # set by the router from the /vX.Y prefix
        self._body_done = False

    # -- query helpers -------------------------------------------------------------------
    def arg(self, name: str, default: str = "") -> str:
        """A query value; repeated keys give the first, like Go's `FormValue` in dockerd."""
        vals = self.query.get(name)
        return vals[0] if vals else default

    def args(self, name: str) -> list[str]:
        return self.query.get(name, [])

    def flag(self, name: str) -> bool:
        """Docker's boolean query values: anything but empty, 0, no, false or none is true."""
        return self.arg(name).strip().lower() not in ("", "0", "no", "false", "none")

    def int_arg(self, name: str, default: int) -> int:
        raw = self.arg(name)
        if raw == "":
            return default
        try:
            return int(raw)
        except ValueError as e:
            raise InvalidArgument(f"invalid value for {name}: {raw!r}") from e

    # -- body ----------------------------------------------------------------------------
    @property
    def body_done(self) -> bool:
        """True once the body has been read to its end (a handler that refuses a body it did
        not read should close the connection rather than wait for it)."""
        return self._body_done

    async def body_chunks(self) -> AsyncIterator[bytes]:
        while not self._body_done:
            event = await self._conn.next_event()
            if isinstance(event, h11.Data):
                yield bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                self._body_done = True
            else:
                raise InvalidArgument(f"unexpected HTTP event in body: {type(event).__name__}")

    async def read_body(self, limit: int = MAX_JSON_BODY) -> bytes:
        buf = bytearray()
        async for chunk in self.body_chunks():
            buf += chunk
            if len(buf) > limit:
                raise InvalidArgument(f"request body exceeds {limit} bytes")
        return bytes(buf)

    async def json(self, limit: int = MAX_JSON_BODY) -> Any:
        raw = await self.read_body(limit)
        if not raw.strip():
            return None
        try:
            return json.loads(raw)
        except ValueError as e:
            raise InvalidArgument(f"invalid JSON body: {e}") from e

    async def drain(self) -> None:
        async for _ in self.body_chunks():
            pass


@dataclass
class Response:
    status: int = 200
    body: bytes | AsyncIterator[bytes] = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    content_type: str | None = "application/json"


@dataclass
class Hijack:
    """Take over the connection: `101 UPGRADED` (or a bare 200 for clients that did not ask to
    upgrade), then `run(reader, writer, early_bytes)` owns the raw socket until it returns."""

    run: Callable[[asyncio.StreamReader, asyncio.StreamWriter, bytes], Awaitable[None]]
    content_type: str = "application/vnd.docker.raw-stream"


def json_response(obj: Any, status: int = 200) -> Response:
    return Response(status=status, body=json.dumps(obj).encode() + b"\n")


def empty_response(status: int = 204) -> Response:
    return Response(status=status, body=b"", content_type=None)


Handler = Callable[[Request], Awaitable["Response | Hijack"]]


class Connection:
    """Serves one client socket: parse with h11, dispatch, write, repeat while keep-alive."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        handler: Handler,
        common_headers: list[tuple[str, str]],
    ) -> None:
        self.reader, self.writer = reader, writer
        self.handler = handler
        self.common_headers = common_headers
        self.h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=64 * 1024)

    async def next_event(self) -> Any:
        while True:
            event = self.h11.next_event()
            if event is h11.NEED_DATA:
                if self.h11.they_are_waiting_for_100_continue:
                    await self._send(h11.InformationalResponse(status_code=100, headers=[]))
                data = await self.reader.read(READ_SIZE)
                self.h11.receive_data(data)
                continue
            return event

    async def _send(self, event: Any) -> None:
        data = self.h11.send(event)
        if data:
            self.writer.write(data)
            await self.writer.drain()

    async def serve(self) -> None:
        try:
            while await self._serve_one():
                self.h11.start_next_cycle()
        except (ConnectionError, asyncio.IncompleteReadError, h11.RemoteProtocolError):
            pass
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("connection failed")
        finally:
            self.writer.close()

    async def _serve_one(self) -> bool:
        event = await self.next_event()
        if not isinstance(event, h11.Request):
            return False  # ConnectionClosed or garbage
        request = Request(self, event)
        response = await self.handler(request)
        if isinstance(response, Hijack):
            await self._hijack(request, response)
            return False
        await self._write_response(request, response)
        if self.h11.our_state is h11.MUST_CLOSE or self.h11.their_state is h11.MUST_CLOSE:
            return False
        if not request._body_done:
            # The handler ignored the body; drain it so the next request parses.
            await request.drain()
        return self.h11.our_state is h11.DONE and self.h11.their_state is h11.DONE

    async def _hijack(self, request: Request, hijack: Hijack) -> None:
        await request.drain()
        upgrade = "upgrade" in request.headers.get("connection", "").lower()
        head = ("HTTP/1.1 101 UPGRADED\r\n" if upgrade else "HTTP/1.1 200 OK\r\n")
        head += f"Content-Type: {hijack.content_type}\r\n"
        if upgrade:
            head += "Connection: Upgrade\r\nUpgrade: tcp\r\n"
        for k, v in self.common_headers:
            head += f"{k}: {v}\r\n"
        self.writer.write(head.encode() + b"\r\n")
        await self.writer.drain()
        early = bytes(self.h11._receive_buffer)  # bytes the client sent right after its request
        await hijack.run(self.reader, self.writer, early)

    async def _write_response(self, request: Request, response: Response) -> None:
        headers = list(self.common_headers) + response.headers
        if response.content_type:
            headers.append(("Content-Type", response.content_type))
        streaming = not isinstance(response.body, bytes | bytearray)
        if not streaming:
            body = bytes(response.body)  # type: ignore[arg-type]
            # A handler may set Content-Length itself: a HEAD answer states the size of the
            # body a GET would send (the registry's blobs and manifests).
            explicit = any(k.lower() == "content-length" for k, _ in response.headers)
            if response.status not in (204, 304) and not explicit:
                headers.append(("Content-Length", str(len(body))))
        reason = HTTPStatus(response.status).phrase.encode() if response.status in _STATUSES else b""
        await self._send(h11.Response(status_code=response.status, headers=headers, reason=reason))
        if request.method == "HEAD" or response.status in (204, 304):
            if streaming:
                await response.body.aclose()  # type: ignore[union-attr]
            await self._send(h11.EndOfMessage())
            return
        if streaming:
            await self._stream_body(request, response.body)  # type: ignore[arg-type]
        elif body:
            await self._send(h11.Data(data=body))
        await self._send(h11.EndOfMessage())

    async def _stream_body(self, request: Request, body: AsyncIterator[bytes]) -> None:
        """Send chunks until the iterator ends or the client goes away.

        Long-lived streams (events, logs -f) may sit idle for hours: a watcher reads the socket
        so a client hang-up cancels the stream instead of leaking it.
        """
        sender = asyncio.ensure_future(self._send_all(body))
        watcher = asyncio.ensure_future(self._watch_hangup()) if request._body_done else None
        try:
            if watcher is None:
                await sender
                return
            done, _ = await asyncio.wait({sender, watcher}, return_when=asyncio.FIRST_COMPLETED)
            if sender not in done:
                sender.cancel()
                raise ConnectionResetError("client closed the connection")
            sender.result()
        finally:
            for task in (watcher, sender):
                if task is not None and not task.done():
                    task.cancel()
                    try:
                        await task  # the reader must be free before the next request reads it
                    except (asyncio.CancelledError, Exception):
                        pass

    async def _send_all(self, body: AsyncIterator[bytes]) -> None:
        try:
            async for chunk in body:
                if chunk:
                    await self._send(h11.Data(data=chunk))
        finally:
            await body.aclose()  # type: ignore[attr-defined]

    async def _watch_hangup(self) -> None:
        while True:
            try:
                data = await self.reader.read(READ_SIZE)
            except OSError:  # reset, broken pipe: a hang-up as well
                return
            if not data:
                return
            self.h11.receive_data(data)  # a pipelined request: keep it for the next cycle
