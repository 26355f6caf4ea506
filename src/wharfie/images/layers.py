"""Layer ingest: one pass from a (possibly compressed) tar stream to a verified layer.

The bytes flow once: raw stream → (hash of the compressed blob) → decompressor → tee that hashes
the diff ID and writes the uncompressed tar to the content store → safe extraction into a
staging snapshot. Only when every digest checks out are the blob and the snapshot committed and
the layer recorded. Layers already present (same chain ID) are not read at all.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO

from wharfie.archive.apply import ApplyLimits, apply_layer
from wharfie.archive.compression import open_decompressed
from wharfie.content.store import ContentStore
from wharfie.errors import DigestMismatch
from wharfie.metadata.db import LayerRow, MetadataDB
from wharfie.oci import digest as dg
from wharfie.snapshots.store import SnapshotStore, remove_tree

CHUNK = 1 << 20


class HashingReader:
    """Wraps a stream, hashing (and optionally copying) every byte that is read through it."""

    def __init__(self, inner: BinaryIO, sink: object | None = None, hashing: bool = True) -> None:
        self.inner = inner
        self.sink = sink
        self.hasher = hashlib.sha256()
        self.hashing = hashing  # off when someone else already hashes these bytes
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        data = self.inner.read(n)
        if data:
            if self.hashing:
                self.hasher.update(data)
            self.size += len(data)
            if self.sink is not None:
                self.sink.write(data)  # type: ignore[attr-defined]
        return data

    def readable(self) -> bool:
        return True

    def drain(self) -> None:
        while self.read(CHUNK):
            pass

    @property
    def digest(self) -> str:
        return "sha256:" + self.hasher.hexdigest()


@dataclass(frozen=True)
class BlobExpectation:
    """What the manifest says about the compressed blob, when there is one."""

    digest: str
    size: int | None = None


class LayerStore:
    def __init__(self, db: MetadataDB, content: ContentStore, snapshots: SnapshotStore,
                 commit_lock: threading.RLock, limits: ApplyLimits | None = None) -> None:
        self.db, self.content, self.snapshots = db, content, snapshots
        # Held while content becomes visible and gets recorded; GC holds it while it sweeps, so
        # it never sees a committed blob that is about to be recorded.
        self.commit_lock = commit_lock
        self.limits = limits or ApplyLimits()
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._leases: list[set[str]] = []

    @contextmanager
    def lease(self) -> Iterator[set[str]]:
        """Chain IDs added to the yielded set are kept from GC until the block ends.

        An image load records its layers one by one before the image that references them;
        the lease covers that gap.
        """
        held: set[str] = set()
        with self._locks_guard:
            self._leases.append(held)
        try:
            yield held
        finally:
            with self._locks_guard:
                self._leases.remove(held)

    def leased(self) -> set[str]:
        with self._locks_guard:
            return set().union(*self._leases) if self._leases else set()

    def _lock(self, key: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(key, threading.Lock())

    def have(self, chain_id: str) -> bool:
        return self.db.layer(chain_id) is not None

    def existing(self, parent: str | None, diff_id: str, lease: set[str]) -> LayerRow | None:
        """The stored layer for (parent, diff_id), leased, or None when it must be ingested."""
        chain = dg.chain_ids([parent, diff_id])[1] if parent else diff_id
        with self.commit_lock:
            row = self.db.layer(chain)
            if row is not None:
                lease.add(chain)
            return row

    def ingest(self, stream: BinaryIO, parent: str | None, diff_id: str | None, lease: set[str],
               blob: BlobExpectation | None = None) -> LayerRow:
        """Store one layer on top of `parent` (a chain ID or None) and lease it.

        `diff_id` is the expected digest of the uncompressed tar (from the image config);
        None means "whatever it hashes to" (import of a user tarball).
        """
        if diff_id is None:
            return self._ingest(stream, parent, None, blob, lease)
        chain = dg.chain_ids([parent, diff_id])[1] if parent else diff_id
        with self._lock(chain):
            return self.existing(parent, diff_id, lease) or self._ingest(stream, parent, diff_id, blob, lease)

    def _ingest(self, stream: BinaryIO, parent: str | None, expected_diff: str | None,
                blob: BlobExpectation | None, lease: set[str]) -> LayerRow:
        raw = HashingReader(stream, hashing=blob is not None)
        staging = self.snapshots.new_tmp()
        try:
            with self.content.writer(expected_diff) as tar_blob:
                # The content writer hashes the tar (the diff ID): the tee only copies.
                tee = HashingReader(open_decompressed(raw), sink=tar_blob, hashing=False)  # type: ignore[arg-type]
                stats = apply_layer(tee, str(staging / "fs"), overlay=True, limits=self.limits)  # type: ignore[arg-type]
                tee.drain()  # the end-of-archive padding belongs to the digest too
                raw.drain()
                _check_blob(raw, blob)
                with self.commit_lock:
                    diff_id = tar_blob.commit()  # verifies expected_diff
                    chain = dg.chain_ids([parent, diff_id])[1] if parent else diff_id
                    existing = self.db.layer(chain)
                    if existing is None:
                        self.snapshots.commit(staging, chain)
                        existing = LayerRow(chain, diff_id, parent, diff_id, stats.size)
                        self.db.add_layer(existing)
                    lease.add(chain)
            remove_tree(staging)  # no-op when committed (renamed away)
            return existing
        except BaseException:
            remove_tree(staging)
            raise


def _check_blob(raw: HashingReader, blob: BlobExpectation | None) -> None:
    if blob is None:
        return
    if raw.digest != blob.digest:
        raise DigestMismatch(f"layer blob digest mismatch: expected {blob.digest}, got {raw.digest}")
    if blob.size is not None and raw.size != blob.size:
        raise DigestMismatch(f"layer blob {blob.digest} size mismatch: expected {blob.size}, got {raw.size}")
