"""Content-addressed blob store.

Lifecycle of a blob: bytes stream into `ingest/<random>` while being hashed; `commit()` checks
the digest (and size, when one was expected), fsyncs, and renames into `blobs/sha256/<hex>`.
A crash leaves only files in `ingest/`, which `clean_ingest()` removes at daemon start.
Blobs are immutable once committed; readers verify small blobs on every read.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from wharfie.errors import DigestMismatch, NotFound
from wharfie.oci import digest as dg

CHUNK = 1 << 20


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Writer:
    """An in-progress blob. Use as a context manager: an exception aborts it."""

    def __init__(self, store: ContentStore, expected: str | None, expected_size: int | None):
        self.store = store
        self.expected = dg.validate(expected) if expected else None
        self.expected_size = expected_size
        self.tmp = store.ingest_dir / uuid.uuid4().hex
        self.fh: BinaryIO = open(self.tmp, "xb")
        self.hasher = hashlib.sha256()
        self.size = 0
        self.digest = ""

    def write(self, data: bytes) -> int:
        self.fh.write(data)
        self.hasher.update(data)
        self.size += len(data)
        if self.expected_size is not None and self.size > self.expected_size:
            raise DigestMismatch(f"blob {self.expected} is larger than its declared size {self.expected_size}")
        return len(data)

    def commit(self) -> str:
        self.fh.flush()
        os.fsync(self.fh.fileno())
        self.fh.close()
        actual = "sha256:" + self.hasher.hexdigest()
        if self.expected and actual != self.expected:
            raise DigestMismatch(f"digest mismatch: expected {self.expected}, got {actual}")
        if self.expected_size is not None and self.size != self.expected_size:
            raise DigestMismatch(f"size mismatch for {actual}: expected {self.expected_size} bytes, got {self.size}")
        final = self.store.path(actual)
        if final.exists():
            self.tmp.unlink()
        else:
            os.rename(self.tmp, final)
            fsync_dir(final.parent)  # the rename itself must survive a power loss
        self.digest = actual
        return actual

    def abort(self) -> None:
        if not self.fh.closed:
            self.fh.close()
        self.tmp.unlink(missing_ok=True)

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is not None or not self.digest:
            self.abort()


class ContentStore:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.blob_dir = self.root / "blobs" / "sha256"
        self.ingest_dir = self.root / "ingest"
        self.blob_dir.mkdir(parents=True, exist_ok=True)
        self.ingest_dir.mkdir(parents=True, exist_ok=True)

    def path(self, digest: str) -> Path:
        return self.blob_dir / dg.hex_of(digest)

    def exists(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def size(self, digest: str) -> int:
        try:
            return self.path(digest).stat().st_size
        except FileNotFoundError as e:
            raise NotFound(f"blob {digest} not found") from e

    def writer(self, expected: str | None = None, expected_size: int | None = None) -> Writer:
        return Writer(self, expected, expected_size)

    def put_bytes(self, data: bytes, expected: str | None = None) -> str:
        if expected and self.exists(expected):
            if dg.of_bytes(data) != expected:
                raise DigestMismatch(f"digest mismatch: expected {expected}")
            return expected
        with self.writer(expected, len(data) if expected else None) as w:
            w.write(data)
            return w.commit()

    def read_bytes(self, digest: str, max_size: int = 64 << 20) -> bytes:
        """Read a small blob (config, manifest), verified against its digest."""
        try:
            with open(self.path(digest), "rb") as fh:
                data = fh.read(max_size + 1)
        except FileNotFoundError as e:
            raise NotFound(f"blob {digest} not found") from e
        if len(data) > max_size:
            raise DigestMismatch(f"blob {digest} exceeds {max_size} bytes")
        if dg.of_bytes(data) != digest:
            raise DigestMismatch(f"blob {digest} is corrupt on disk")
        return data

    def open(self, digest: str) -> BinaryIO:
        try:
            return open(self.path(digest), "rb")
        except FileNotFoundError as e:
            raise NotFound(f"blob {digest} not found") from e

    def delete(self, digest: str) -> int:
        p = self.path(digest)
        try:
            size = p.stat().st_size
            p.unlink()
            return size
        except FileNotFoundError:
            return 0

    def digests(self) -> Iterator[str]:
        for p in self.blob_dir.iterdir():
            if dg.is_full_hex_id(p.name):
                yield "sha256:" + p.name

    def clean_ingest(self) -> int:
        n = 0
        for p in self.ingest_dir.iterdir():
            p.unlink(missing_ok=True)
            n += 1
        return n
