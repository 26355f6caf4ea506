"""A registry blob as a forward-only file: resumes with `Range` after a dropped connection.

The reader never yields more than the descriptor's size (a longer body is an error at once) and
a body that ends early is resumed from where it stopped, a few times with backoff, before it is
reported as truncated. Digest and size are checked by whoever consumes the bytes (the layer
ingest or `fetch_small`), before anything is committed.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator

import httpx

from wharfie.errors import DigestMismatch, WharfieError
from wharfie.oci import digest as dg
from wharfie.registry.manifest import Descriptor
from wharfie.registry.session import Session, error_for

RESUMES = 5
BACKOFF = 0.2


class BlobReader:
    def __init__(self, session: Session, repo: str, desc: Descriptor,
                 progress: Callable[[int], None] | None = None) -> None:
        self.session, self.desc = session, desc
        self.path = f"/v2/{repo}/blobs/{desc.digest}"
        self.progress = progress
        self.pos = 0
        self.resumes = 0
        self._buf = b""
        self._resp: httpx.Response | None = None
        self._chunks: Iterator[bytes] | None = None

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        want = self.desc.size + 1 if n is None or n < 0 else n
        parts, have = [self._buf], len(self._buf)
        while have < want and self.pos + have < self.desc.size + 1:
            chunk = self._next_chunk(self.pos + have)
            if not chunk:
                break
            parts.append(chunk)
            have += len(chunk)
        joined = b"".join(parts) if len(parts) > 1 else parts[0]
        out, self._buf = (joined, b"") if have <= want else (joined[:want], joined[want:])
        self.pos += len(out)
        if self.pos > self.desc.size:
            raise DigestMismatch(f"blob {self.desc.digest} is larger than its declared size {self.desc.size}")
        if out and self.progress:
            self.progress(len(out))
        return out

    def _next_chunk(self, offset: int) -> bytes:
        while True:
            if self._chunks is None:
                if offset >= self.desc.size and offset > 0:
                    return b""
                self._open(offset)
            assert self._chunks is not None
            try:
                return next(self._chunks)
            except StopIteration:
                self._close()
                if offset >= self.desc.size:
                    return b""
                self._resume(offset, "the body ended early")
            except httpx.HTTPError as e:
                self._close()
                self._resume(offset, str(e) or type(e).__name__)

    def _open(self, offset: int) -> None:
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        resp = self.session.request("GET", self.path, headers=headers, stream=True)
        if resp.status_code not in (200, 206):
            raise error_for(resp, f"failed to fetch blob {self.desc.digest}")
        skip = offset if (offset and resp.status_code == 200) else 0  # the server ignored Range
        self._resp = resp
        self._chunks = _skipping(resp.iter_raw(), skip)  # as received: a drop loses nothing

    def _resume(self, offset: int, why: str) -> None:
        self.resumes += 1
        if self.resumes > RESUMES:
            raise WharfieError(f"failed to download blob {self.desc.digest}: unexpected EOF after "
                               f"{offset} of {self.desc.size} bytes ({why})")
        time.sleep(BACKOFF * self.resumes)

    def _close(self) -> None:
        if self._resp is not None:
            self._resp.close()
        self._resp, self._chunks = None, None

    def close(self) -> None:
        self._close()

    def __enter__(self) -> BlobReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _skipping(chunks: Iterator[bytes], skip: int) -> Iterator[bytes]:
    for chunk in chunks:
        if skip >= len(chunk):
            skip -= len(chunk)
            continue
        yield chunk[skip:]
        skip = 0


class LayerStream:
    """A layer blob as its plain tar, produced ahead of the consumer in a thread.

    The producer thread reads the blob from the registry, hashes it, decompresses it (gzip via
    isal, zstd) and queues the tar (bounded); the consumer (the layer ingest: diff-ID hash,
    content store, extraction) runs on another core. End-of-stream is delivered only after the
    blob matched its descriptor's digest and size; otherwise the consumer gets the error instead,
    so an unverified layer can never be committed.
    """

    def __init__(self, reader: BlobReader, depth: int = 16, chunk: int = 1 << 20) -> None:
        self.reader, self.chunk = reader, chunk
        self._q: queue.Queue[bytes | BaseException] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._buf = b""
        self._off = 0
        self._eof = False
        # Started by the first read: a layer another pull commits meanwhile is never fetched.
        self._thread = threading.Thread(target=self._run, name="wharfie-layer-stream", daemon=True)

    def _put(self, item: bytes | BaseException) -> bool:
        while not self._stop.is_set():
            try:
                self._q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        from wharfie.archive.compression import open_decompressed
        from wharfie.images.layers import HashingReader

        try:
            raw = HashingReader(self.reader)  # type: ignore[arg-type]
            plain = open_decompressed(raw)  # type: ignore[arg-type]
            while not self._stop.is_set():
                data = plain.read(self.chunk)
                if not data:
                    break
                if not self._put(data):
                    return
            raw.drain()  # trailing bytes belong to the digest too
            desc = self.reader.desc
            if raw.size != desc.size:
                raise DigestMismatch(f"size mismatch for blob {desc.digest}: expected {desc.size} bytes, got {raw.size}")
            if raw.digest != desc.digest:
                raise DigestMismatch(f"layer blob digest mismatch: expected {desc.digest}, got {raw.digest}")
            self._put(b"")
        except BaseException as e:  # handed to the consumer, raised there
            self._put(e)

    def readable(self) -> bool:
        return True

    def _next(self) -> bool:
        """Make the next queued chunk current; False at end of stream."""
        if self._eof:
            return False
        if not self._thread.is_alive() and self._thread.ident is None:
            self._thread.start()
        item = self._q.get()
        if isinstance(item, BaseException):
            self._eof = True
            raise item
        if not item:
            self._eof = True
            return False
        self._buf, self._off = item, 0
        return True

    def read(self, n: int = -1) -> bytes:
        """Up to `n` bytes (all that is left for n < 0); short only at end of stream. Slices the
        current chunk by offset: small reads (tar headers) never copy the rest of it."""
        want = (1 << 62) if n is None or n < 0 else n
        parts: list[bytes] = []
        while want > 0:
            if self._off >= len(self._buf) and not self._next():
                break
            piece = self._buf[self._off:self._off + want]
            self._off += len(piece)
            want -= len(piece)
            parts.append(piece)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def close(self) -> None:
        self._stop.set()
        self.reader.close()  # interrupts a read stalled on the network
        if self._thread.ident is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> LayerStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def fetch_small(session: Session, repo: str, desc: Descriptor, limit: int) -> bytes:
    """A small blob (an image config), verified against its digest and size."""
    if desc.size > limit:
        raise DigestMismatch(f"blob {desc.digest} is too large ({desc.size} bytes, limit {limit})")
    with BlobReader(session, repo, desc) as r:
        data = r.read(desc.size + 1)
    if len(data) != desc.size:
        raise DigestMismatch(f"size mismatch for blob {desc.digest}: expected {desc.size} bytes, got {len(data)}")
    if dg.of_bytes(data) != desc.digest:
        raise DigestMismatch(f"digest mismatch for blob {desc.digest}: got {dg.of_bytes(data)}")
    return data
