"""The build cache: (parent image, step after expansion, input digests) → committed image.

Keys are content-based (never mtimes), so a rebuild of unchanged inputs is a lookup per step,
and the map lives in SQLite so it survives daemon restarts. An entry whose image was removed
is a miss.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import stat
import threading
from pathlib import Path


class BuildCache:
    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self.lock = threading.Lock()
        with self.lock:
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("CREATE TABLE IF NOT EXISTS steps (key TEXT PRIMARY KEY, image_id TEXT NOT NULL)")

    @staticmethod
    def key(parent: str, step: str, inputs: str = "", extra: dict[str, str] | None = None) -> str:
        doc = json.dumps({"parent": parent, "step": step, "inputs": inputs, "extra": extra or {}},
                         sort_keys=True)
        return hashlib.sha256(doc.encode()).hexdigest()

    def get(self, key: str) -> str | None:
        with self.lock:
            row = self.conn.execute("SELECT image_id FROM steps WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def put(self, key: str, image_id: str) -> None:
        with self.lock:
            self.conn.execute("INSERT OR REPLACE INTO steps(key, image_id) VALUES (?,?)", (key, image_id))

    def forget(self, image_id: str) -> None:
        with self.lock:
            self.conn.execute("DELETE FROM steps WHERE image_id=?", (image_id,))

    def prune(self, live_images: set[str]) -> int:
        """Drop entries whose image is gone; returns how many."""
        with self.lock:
            rows = self.conn.execute("SELECT key, image_id FROM steps").fetchall()
            dead = [k for k, i in rows if i not in live_images]
            self.conn.executemany("DELETE FROM steps WHERE key=?", [(k,) for k in dead])
        return len(dead)

    def clear(self) -> list[str]:
        """Forget every step; returns the forgotten keys (what `builder prune` lists)."""
        with self.lock:
            keys = [r[0] for r in self.conn.execute("SELECT key FROM steps")]
            self.conn.execute("DELETE FROM steps")
        return keys


def digest_inputs(entries: list[tuple[str, str]]) -> str:
    """A digest over COPY/ADD sources: each (host path, path in the layer) by name, mode and
    content — never by mtime, so a fresh checkout of the same files hits the cache."""
    h = hashlib.sha256()
    for src, rel in sorted(entries, key=lambda e: e[1]):
        st = os.lstat(src)
        h.update(f"{rel}\0{stat.S_IFMT(st.st_mode)}\0{stat.S_IMODE(st.st_mode)}\0".encode())
        if stat.S_ISLNK(st.st_mode):
            h.update(os.readlink(src).encode())
        elif stat.S_ISREG(st.st_mode):
            with open(src, "rb") as fh:
                while chunk := fh.read(1 << 20):
                    h.update(chunk)
        h.update(b"\0")
    return "sha256:" + h.hexdigest()
