"""Bridges between blocking work in threads and streamed HTTP bodies.

- `json_messages`: run a job in a worker thread that emits progress messages; stream them as
  Docker's JSON-lines (`{...}\\r\\n`), ending with an in-band `errorDetail` if the job fails.
- `thread_bytes`: run a job that writes bytes (a tar being generated) and stream those bytes,
  with back-pressure so a slow client never makes us buffer a whole image in memory.
- `spool_body`: copy a request body to a file without blocking the loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

from wharfie.api.http import Request
from wharfie.errors import WharfieError

log = logging.getLogger("wharfie.api")

SPOOL_BATCH = 4 << 20
Message = dict[str, Any]
_DONE = object()


def encode(msg: Message) -> bytes:
    return json.dumps(msg, separators=(",", ":")).encode() + b"\r\n"


def error_message(exc: BaseException) -> Message:
    text = str(exc) if isinstance(exc, WharfieError) else f"{type(exc).__name__}: {exc}"
    code = getattr(exc, "exit_code", None)
    detail: Message = {"message": text}
    if code:
        detail = {"code": code, "message": text}
    return {"errorDetail": detail, "error": text}


async def json_messages(job: Callable[[Callable[[Message], None]], Any]) -> AsyncIterator[bytes]:
    """Stream what `job(emit)` emits; the job runs in a worker thread."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[object] = asyncio.Queue()

    def emit(msg: Message) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, msg)

    def run() -> None:
        try:
            job(emit)
        except BaseException as e:  # reported in-band: the 200 has already gone out
            if not isinstance(e, WharfieError):
                log.exception("streamed job failed")
            loop.call_soon_threadsafe(queue.put_nowait, error_message(e))
        finally:
            loop.call_soon_threadsafe(queue.put_nowait, _DONE)

    worker = loop.run_in_executor(None, run)
    try:
        while (item := await queue.get()) is not _DONE:
            yield encode(item)  # type: ignore[arg-type]
    finally:
        await asyncio.shield(worker)


class _QueueWriter:
    """A write-only file object feeding an asyncio queue from a worker thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[object], cancelled: threading.Event):
        self.loop, self.queue, self.cancelled = loop, queue, cancelled
        self.buf = bytearray()

    def write(self, data: bytes) -> int:
        self.buf += data
        if len(self.buf) >= 1 << 20:
            self.flush()
        return len(data)

    def flush(self) -> None:
        if self.cancelled.is_set():
            raise BrokenPipeError("client went away")
        if self.buf:
            chunk, self.buf = bytes(self.buf), bytearray()
            asyncio.run_coroutine_threadsafe(self.queue.put(chunk), self.loop).result()


async def thread_bytes(job: Callable[[_QueueWriter], None]) -> AsyncIterator[bytes]:
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[object] = asyncio.Queue(maxsize=8)
    cancelled = threading.Event()

    def run() -> None:
        writer = _QueueWriter(loop, queue, cancelled)
        try:
            job(writer)
            writer.flush()
        except BrokenPipeError:
            pass
        except BaseException:
            log.exception("streamed writer failed; the client gets a truncated body")
        finally:
            asyncio.run_coroutine_threadsafe(queue.put(_DONE), loop)

    worker = loop.run_in_executor(None, run)
    try:
        while (item := await queue.get()) is not _DONE:
            yield item  # type: ignore[misc]
    finally:
        cancelled.set()
        while not worker.done():  # unblock a writer waiting on a full queue
            try:
                queue.get_nowait()
            except asyncio.QueueEmpty:
                await asyncio.sleep(0.01)
        await worker


async def spool_body(request: Request, path: str) -> int:
    """Write the request body to `path` in batches handed to a worker thread."""
    size = 0
    with open(path, "xb") as fh:
        batch = bytearray()
        async for chunk in request.body_chunks():
            batch += chunk
            size += len(chunk)
            if len(batch) >= SPOOL_BATCH:
                await asyncio.to_thread(fh.write, bytes(batch))
                batch = bytearray()
        if batch:
            await asyncio.to_thread(fh.write, bytes(batch))
    return size
