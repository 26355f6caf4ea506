"""Upload sessions: bytes staged in ROOT/uploads/<uuid> until a PUT names their digest.

A session is a staging file plus, in memory, the running sha256 and the byte count, so the
closing PUT verifies without re-reading the blob. A chunk is all or nothing: if its request
fails half way (client gone, size mismatch), the file is truncated and the hash state restored
to where the chunk began. Only `finish()` with the right digest moves the file into the blob
store (fsync, then rename); a wrong digest discards the session. Sessions live in this process
only, so a (re)starting server deletes every staging file: an interrupted upload never becomes
a visible blob and leaves nothing behind. Idle sessions expire after `ttl` seconds.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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

    def purge_all(self) -> int:
        """At start: no session survives a restart (their hash state was in memory)."""
        n = 0
        for p in self.dir.iterdir():
            p.unlink(missing_ok=True)
            n += 1
        return n

    def start(self, name: str) -> Session:
        if len(self.sessions) >= MAX_SESSIONS:
            raise RegistryError("TOOMANYREQUESTS", f"{MAX_SESSIONS} uploads are already open")
        sid = str(uuid.uuid4())
        path = self.dir / sid
        path.touch(exist_ok=False)
        s = self.sessions[sid] = Session(sid, name, path)
        return s

    def get(self, name: str, sid: str) -> Session:
        s = self.sessions.get(sid)
        if s is None or s.name != name:
            raise RegistryError("BLOB_UPLOAD_UNKNOWN", f"upload {sid} unknown to repository {name}")
        s.touched = time.monotonic()
        return s

    def cancel(self, s: Session) -> None:
        self.sessions.pop(s.id, None)
        s.path.unlink(missing_ok=True)

    def expire(self) -> int:
        """Drop sessions idle for longer than ttl (a client that never came back)."""
        now = time.monotonic()
        stale = [s for s in self.sessions.values() if now - s.touched > self.ttl and not s.lock.locked()]
        for s in stale:
            self.cancel(s)
        return len(stale)

    async def receive(self, s: Session, chunks: AsyncIterator[bytes]) -> int:
        """Append a request body to the session; returns its length. All or nothing."""
        start_size, start_hash = s.size, s.hasher.copy()
        fh = await asyncio.to_thread(open, s.path, "ab")
        pending: asyncio.Future[None] | None = None
        try:
            buf: list[bytes] = []
            buffered = 0
            async for chunk in chunks:
                buf.append(chunk)
                buffered += len(chunk)
                if buffered >= FLUSH:
                    if pending is not None:
                        await pending
                    # Overlap: hash+write this batch in a thread while the next one arrives.
                    pending = asyncio.ensure_future(asyncio.to_thread(_append, s, fh, b"".join(buf)))
                    buf, buffered = [], 0
            if pending is not None:
                await pending
                pending = None
            if buf:
                await asyncio.to_thread(_append, s, fh, b"".join(buf))
            await asyncio.to_thread(fh.close)
        except BaseException:
            if pending is not None:
                await asyncio.gather(pending, return_exceptions=True)
            await asyncio.to_thread(_rollback, s, fh, start_size)
            s.hasher = start_hash
            raise
        s.touched = time.monotonic()
        return s.size - start_size

    def rollback(self, s: Session, size: int, hasher: Any) -> None:
        """Undo a chunk that arrived whole but was wrong (its size disagreed with its range)."""
        with open(s.path, "ab") as fh:
            _rollback(s, fh, size)
        s.hasher = hasher

    def finish(self, s: Session, digest: str) -> None:
        """Blocking: verify the digest, then commit the staging file as a blob."""
        actual = "sha256:" + s.hasher.hexdigest()
        if actual != digest:
            self.cancel(s)
            raise RegistryError("DIGEST_INVALID", f"upload digest {actual} does not match {digest}")
        self.sessions.pop(s.id, None)
        with open(s.path, "rb+") as fh:
            os.fsync(fh.fileno())
        self.storage.commit_blob(s.path, digest)


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
