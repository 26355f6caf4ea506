"""Upload sessions: bytes staged in ROOT/uploads/<uuid> until a PUT names their digest.

A session is a staging file plus, in memory, the running sha256 and the byte count, so the
closing PUT verifies without re-reading the blob. A chunk is all or nothing: if its request
fails half way (client gone, size mismatch), the file is truncated and the hash state restored
to where the chunk began. Only `finish()` with the right digest moves the file into the blob
store (fsync, then rename); a wrong digest discards the session. Sessions live in this process
only, so a (re)starting server deletes every staging file: an interrupted upload never becomes
a visible blob and leaves nothing behind. Idle sessions expire after `ttl` seconds.

The session table is shared by the loop and worker threads (start/finish/cancel run in
threads), so it is only touched under `_table_lock`. A request that waited on `Session.lock`
must re-check `live()`: the session may have been finished or cancelled meanwhile, and its
staging file is never re-created (opened without O_CREAT).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from wharfie.registry.server.errors import RegistryError
from wharfie.registry.server.storage import Storage

FLUSH = 4 << 20  # bytes gathered before one write+hash in a worker thread
MAX_SESSIONS = 10_000  # open sessions cost a file each; beyond this, clients must retry later


@dataclass
class Session:
    id: str
    name: str
    path: Path
    size: int = 0
    hasher: Any = field(default_factory=hashlib.sha256)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    touched: float = field(default_factory=time.monotonic)


class Uploads:
    def __init__(self, storage: Storage, ttl: float = 3600.0) -> None:
        self.storage = storage
        self.dir = storage.root / "uploads"
        self.dir.mkdir(exist_ok=True)
        self.ttl = ttl
        self.sessions: dict[str, Session] = {}
        self._table_lock = threading.Lock()

    def purge_all(self) -> int:
        """At start: no session survives a restart (their hash state was in memory)."""
        n = 0
        for p in self.dir.iterdir():
            p.unlink(missing_ok=True)
            n += 1
        return n

    def start(self, name: str) -> Session:
        sid = str(uuid.uuid4())
        s = Session(sid, name, self.dir / sid)
        with self._table_lock:
            if len(self.sessions) >= MAX_SESSIONS:
                raise RegistryError("TOOMANYREQUESTS", f"{MAX_SESSIONS} uploads are already open")
            self.sessions[sid] = s
        try:
            s.path.touch(exist_ok=False)
        except BaseException:
            self._drop(s)
            raise
        return s

    def get(self, name: str, sid: str) -> Session:
        with self._table_lock:
            s = self.sessions.get(sid)
        if s is None or s.name != name:
            raise RegistryError("BLOB_UPLOAD_UNKNOWN", f"upload {sid} unknown to repository {name}")
        s.touched = time.monotonic()
        return s

    def live(self, s: Session) -> None:
        """Call with `s.lock` held: BLOB_UPLOAD_UNKNOWN if `s` was finished or cancelled while
        the caller waited for the lock."""
        with self._table_lock:
            current = self.sessions.get(s.id)
        if current is not s:
            raise RegistryError("BLOB_UPLOAD_UNKNOWN", f"upload {s.id} was completed or cancelled")

    def _drop(self, s: Session) -> None:
        with self._table_lock:
            if self.sessions.get(s.id) is s:
                del self.sessions[s.id]

    def cancel(self, s: Session) -> None:
        self._drop(s)
        s.path.unlink(missing_ok=True)

    def take_stale(self) -> list[Session]:
        """On the loop (it reads the asyncio locks): remove sessions idle for longer than ttl
        (a client that never came back) from the table; the caller `discard()`s their files."""
        now = time.monotonic()
        with self._table_lock:
            stale = [s for s in list(self.sessions.values())
                     if now - s.touched > self.ttl and not s.lock.locked()]
            for s in stale:
                del self.sessions[s.id]
        return stale

    @staticmethod
    def discard(stale: list[Session]) -> None:
        """Blocking: unlink the staging files of sessions `take_stale()` removed."""
        for s in stale:
            s.path.unlink(missing_ok=True)

    def expire(self) -> int:
        stale = self.take_stale()
        self.discard(stale)
        return len(stale)

    async def receive(self, s: Session, chunks: AsyncIterator[bytes]) -> int:
        """Append a request body to the session; returns its length. All or nothing."""
        start_size, start_hash = s.size, s.hasher.copy()
        fh = await asyncio.to_thread(_open_append, s)
        # Appends run in threads that a cancellation cannot stop: they are shielded, and the
        # rollback below waits for the last one, so it never races a write (or s.size +=).
        pending: asyncio.Future[None] | None = None
        try:
            buf: list[bytes] = []
            buffered = 0
            async for chunk in chunks:
                buf.append(chunk)
                buffered += len(chunk)
                if buffered >= FLUSH:
                    if pending is not None:
                        await asyncio.shield(pending)
                    # Overlap: hash+write this batch in a thread while the next one arrives.
                    pending = asyncio.ensure_future(asyncio.to_thread(_append, s, fh, b"".join(buf)))
                    buf, buffered = [], 0
            if buf:
                if pending is not None:
                    await asyncio.shield(pending)
                pending = asyncio.ensure_future(asyncio.to_thread(_append, s, fh, b"".join(buf)))
            if pending is not None:
                await asyncio.shield(pending)
                pending = None
            await asyncio.to_thread(fh.close)
        except BaseException:
            if pending is not None:
                await asyncio.wait([pending])  # unlike gather, never cancels it
            await asyncio.to_thread(_rollback, s, fh, start_size)
            s.hasher = start_hash
            raise
        s.touched = time.monotonic()
        return s.size - start_size

    def rollback(self, s: Session, size: int, hasher: Any) -> None:
        """Undo a chunk that arrived whole but was wrong (its size disagreed with its range)."""
        with _open_append(s) as fh:
            _rollback(s, fh, size)
        s.hasher = hasher

    def finish(self, s: Session, digest: str) -> None:
        """Blocking: verify the digest, then commit the staging file as a blob."""
        actual = "sha256:" + s.hasher.hexdigest()
        if actual != digest:
            self.cancel(s)
            raise RegistryError("DIGEST_INVALID", f"upload digest {actual} does not match {digest}")
        with open(s.path, "rb+") as fh:
            os.fsync(fh.fileno())
        self.storage.commit_blob(s.path, digest)
        self._drop(s)  # only now: a failed commit leaves a session that a retry or ttl ends


def _open_append(s: Session) -> BinaryIO:
    """The staging file for appending, never created: a finished session has none."""
    try:
        fd = os.open(s.path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
    except FileNotFoundError:
        raise RegistryError("BLOB_UPLOAD_UNKNOWN", f"upload {s.id} was completed or cancelled") from None
    return os.fdopen(fd, "ab")


def _append(s: Session, fh: Any, data: bytes) -> None:
    fh.write(data)
    s.hasher.update(data)
    s.size += len(data)


def _rollback(s: Session, fh: Any, size: int) -> None:
    try:
        fh.close()  # flushes what was written; the truncate below drops it again
    except OSError:
        pass
    os.truncate(s.path, size)
    s.size = size
