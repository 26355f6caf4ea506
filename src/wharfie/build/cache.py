"""The build cache: (parent image, step after expansion, input digests) → committed image.

Keys are content-based (never mtimes), so a rebuild of unchanged inputs is a lookup per step,
and the map lives in SQLite so it survives daemon restarts. An entry whose image was removed
is a miss.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import threading
from pathlib import Path
from typing import Any

from wharfie.metadata import sqlite

MAX_DETAIL = 4 << 20  # bytes of per-file digests kept per step


class BuildCache:
    def __init__(self, path: Path) -> None:
        self.conn = sqlite.connect(
            path, "CREATE TABLE IF NOT EXISTS steps (key TEXT PRIMARY KEY, image_id TEXT NOT NULL)",
            # What each (parent, step) last ran with, to say why the next build of it missed.
            "CREATE TABLE IF NOT EXISTS inputs (probe TEXT PRIMARY KEY, detail TEXT NOT NULL)")
        self.lock = threading.Lock()

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

    def remember(self, parent: str, step: str, detail: dict[str, Any]) -> None:
        doc = json.dumps(detail, sort_keys=True)
        if len(doc) > MAX_DETAIL:
            doc = json.dumps({k: v for k, v in detail.items() if k != "files"} | {"files": None})
        with self.lock:
            self.conn.execute("INSERT OR REPLACE INTO inputs(probe, detail) VALUES (?,?)",
                              (self.key(parent, step), doc))

    def recall(self, parent: str, step: str) -> dict[str, Any] | None:
        with self.lock:
            row = self.conn.execute("SELECT detail FROM inputs WHERE probe=?", (self.key(parent, step),)).fetchone()
        return json.loads(row[0]) if row else None

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
            self.conn.execute("DELETE FROM inputs")
        return keys


def digest_entries(entries: list[tuple[str, str]]) -> list[str]:
    """One digest per (host path, path in the layer) source: type, mode and content (or link
    target) — never the mtime, so a fresh checkout of the same files hits the cache."""
    out = []
    for src, _ in entries:
        h = hashlib.sha256()
        st = os.lstat(src)
        h.update(f"{stat.S_IFMT(st.st_mode)}\0{stat.S_IMODE(st.st_mode)}\0".encode())
        if stat.S_ISLNK(st.st_mode):
            h.update(os.readlink(src).encode())
        elif stat.S_ISREG(st.st_mode):
            with open(src, "rb") as fh:
                while chunk := fh.read(1 << 20):
                    h.update(chunk)
        out.append(h.hexdigest())
    return out


def combine(entries: list[tuple[str, str]], digests: list[str]) -> str:
    """The digest over all of a COPY/ADD's sources, by their place in the layer."""
    h = hashlib.sha256()
    for rel, d in sorted(zip((e[1] for e in entries), digests, strict=True)):
        h.update(f"{rel}\0{d}\0".encode())
    return "sha256:" + h.hexdigest()


def digest_inputs(entries: list[tuple[str, str]]) -> str:
    return combine(entries, digest_entries(entries))


def explain_miss(old: dict[str, Any], new: dict[str, Any]) -> str:
    """Why a step missed the cache, from what it ran with last time and now ("" if unknown)."""
    parts = []
    old_files, new_files = old.get("files"), new.get("files")
    if isinstance(old_files, dict) and isinstance(new_files, dict):
        changed = sorted(n for n in new_files if n in old_files and new_files[n] != old_files[n])
        added = sorted(n for n in new_files if n not in old_files)
        removed = sorted(n for n in old_files if n not in new_files)
        for names, verb in ((changed, "changed"), (added, "added"), (removed, "removed")):
            if names:
                parts.append(f"{_names(names)} {verb}")
    elif old_files != new_files:
        parts.append("source files changed")
    old_args, new_args = old.get("args") or {}, new.get("args") or {}
    args = sorted(k for k in set(old_args) | set(new_args) if old_args.get(k) != new_args.get(k))
    if args:
        parts.append(f"build arg{'s' if len(args) > 1 else ''} {_names(args)} changed")
    for key in sorted(set(old) | set(new)):
        if key not in ("files", "args") and old.get(key) != new.get(key):
            parts.append(f"{key} changed")
    return "; ".join(parts)


def _names(names: list[str], shown: int = 3) -> str:
    more = len(names) - shown
    return ", ".join(names[:shown]) + (f" and {more} more" if more > 0 else "")
