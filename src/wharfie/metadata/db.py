"""The metadata database of record (SQLite, WAL).

Everything that names content lives here: images, their layers, tags and repo digests.
Content (blobs, snapshot dirs) is written first and recorded second, inside one short
transaction, so after a crash anything on disk that no row names is garbage, never the reverse.
One connection, one lock: callers run in worker threads, never on the event loop.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wharfie.metadata import sqlite

SCHEMA = """
CREATE TABLE IF NOT EXISTS layers (
    chain_id    TEXT PRIMARY KEY,
    diff_id     TEXT NOT NULL,
    parent      TEXT,              -- chain id of the layer below, NULL for a base layer
    blob        TEXT NOT NULL,     -- digest of the uncompressed tar in the content store
    size        INTEGER NOT NULL   -- bytes of file content (what Docker reports)
);
CREATE TABLE IF NOT EXISTS images (
    id          TEXT PRIMARY KEY,  -- sha256 of the config blob
    created     REAL NOT NULL,     -- unix time from the config (0 when absent)
    added       REAL NOT NULL,     -- when this daemon stored it
    last_tagged REAL,
    size        INTEGER NOT NULL,
    parent      TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS image_layers (
    image_id    TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    idx         INTEGER NOT NULL,
    chain_id    TEXT NOT NULL REFERENCES layers(chain_id),
    PRIMARY KEY (image_id, idx)
);
CREATE INDEX IF NOT EXISTS image_layers_chain ON image_layers(chain_id);
CREATE TABLE IF NOT EXISTS refs (
    ref         TEXT PRIMARY KEY,  -- normalised: docker.io/library/busybox:latest or name@sha256:…
    image_id    TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    is_digest   INTEGER NOT NULL,
    added       REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS refs_image ON refs(image_id);
"""


@dataclass(frozen=True)
class LayerRow:
    chain_id: str
    diff_id: str
    parent: str | None
    blob: str
    size: int


@dataclass(frozen=True)
class ImageRow:
    id: str
    created: float
    added: float
    last_tagged: float | None
    size: int
    parent: str


class MetadataDB:
    def __init__(self, path: str | Path) -> None:
        self.conn = sqlite.connect(path, "PRAGMA foreign_keys=ON")
        self.conn.executescript(SCHEMA)
        self.lock = threading.RLock()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One atomic write transaction (BEGIN IMMEDIATE … COMMIT, rollback on error)."""
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def query(self, sql: str, args: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        with self.lock:
            return self.conn.execute(sql, args).fetchall()

    def close(self) -> None:
        with self.lock:
            self.conn.close()

    # -- layers --------------------------------------------------------------------------
    def layer(self, chain_id: str) -> LayerRow | None:
        rows = self.query("SELECT chain_id, diff_id, parent, blob, size FROM layers WHERE chain_id=?", (chain_id,))
        return LayerRow(*rows[0]) if rows else None

    def all_layers(self) -> list[LayerRow]:
        return [LayerRow(*r) for r in self.query("SELECT chain_id, diff_id, parent, blob, size FROM layers")]

    def add_layer(self, row: LayerRow) -> None:
        with self.tx() as c:
            c.execute(
                "INSERT OR IGNORE INTO layers(chain_id, diff_id, parent, blob, size) VALUES (?,?,?,?,?)",
                (row.chain_id, row.diff_id, row.parent, row.blob, row.size),
            )

    def image_chain(self, image_id: str) -> list[str]:
        rows = self.query("SELECT chain_id FROM image_layers WHERE image_id=? ORDER BY idx", (image_id,))
        return [r[0] for r in rows]

    def unreferenced_layers(self) -> list[LayerRow]:
        """Layers no image uses, topmost first (so parents are removed after children)."""
        rows = self.query(
            "SELECT chain_id, diff_id, parent, blob, size FROM layers "
            "WHERE chain_id NOT IN (SELECT chain_id FROM image_layers)"
        )
        return [LayerRow(*r) for r in rows]

    def delete_layer(self, chain_id: str) -> None:
        with self.tx() as c:
            c.execute("DELETE FROM layers WHERE chain_id=?", (chain_id,))

    # -- images --------------------------------------------------------------------------
    def add_image(self, row: ImageRow, chain: list[str], refs: list[tuple[str, bool]], now: float) -> list[str]:
        """Record an image and point refs at it atomically; returns the image ids refs moved off."""
        with self.tx() as c:
            c.execute(
                "INSERT OR IGNORE INTO images(id, created, added, last_tagged, size, parent) VALUES (?,?,?,?,?,?)",
                (row.id, row.created, row.added, row.last_tagged, row.size, row.parent),
            )
            c.executemany(
                "INSERT OR IGNORE INTO image_layers(image_id, idx, chain_id) VALUES (?,?,?)",
                [(row.id, i, ch) for i, ch in enumerate(chain)],
            )
            return self._set_refs(c, row.id, refs, now)

    def set_refs(self, image_id: str, refs: list[tuple[str, bool]], now: float) -> list[str]:
        with self.tx() as c:
            return self._set_refs(c, image_id, refs, now)

    @staticmethod
    def _set_refs(c: sqlite3.Connection, image_id: str, refs: list[tuple[str, bool]], now: float) -> list[str]:
        moved: list[str] = []
        for ref, is_digest in refs:
            old = c.execute("SELECT image_id FROM refs WHERE ref=?", (ref,)).fetchone()
            if old and old[0] != image_id:
                moved.append(old[0])
            c.execute(
                "INSERT OR REPLACE INTO refs(ref, image_id, is_digest, added) VALUES (?,?,?,?)",
                (ref, image_id, int(is_digest), now),
            )
            if not is_digest:
                c.execute("UPDATE images SET last_tagged=? WHERE id=?", (now, image_id))
        return moved

    def image(self, image_id: str) -> ImageRow | None:
        rows = self.query("SELECT id, created, added, last_tagged, size, parent FROM images WHERE id=?", (image_id,))
        return ImageRow(*rows[0]) if rows else None

    def images(self) -> list[ImageRow]:
        return [ImageRow(*r) for r in self.query("SELECT id, created, added, last_tagged, size, parent FROM images")]

    def image_ids_with_prefix(self, prefix: str) -> list[str]:
        return [r[0] for r in self.query("SELECT id FROM images WHERE id LIKE ?", (f"sha256:{prefix}%",))]

    def delete_image(self, image_id: str) -> None:
        with self.tx() as c:
            c.execute("DELETE FROM images WHERE id=?", (image_id,))

    # -- refs ----------------------------------------------------------------------------
    def resolve_ref(self, ref: str) -> str | None:
        rows = self.query("SELECT image_id FROM refs WHERE ref=?", (ref,))
        return rows[0][0] if rows else None

    def refs_of(self, image_id: str) -> list[tuple[str, bool]]:
        rows = self.query("SELECT ref, is_digest FROM refs WHERE image_id=? ORDER BY added, ref", (image_id,))
        return [(r[0], bool(r[1])) for r in rows]

    def all_refs(self) -> dict[str, list[tuple[str, bool]]]:
        out: dict[str, list[tuple[str, bool]]] = {}
        for ref, image_id, is_digest in self.query("SELECT ref, image_id, is_digest FROM refs ORDER BY added, ref"):
            out.setdefault(image_id, []).append((ref, bool(is_digest)))
        return out

    def delete_ref(self, ref: str) -> None:
        with self.tx() as c:
            c.execute("DELETE FROM refs WHERE ref=?", (ref,))
