"""How every store opens its SQLite database: autocommit (explicit short transactions), WAL so
readers never wait for the writer, synchronous=NORMAL (durable at each WAL checkpoint, never
corrupt), shared across worker threads behind the store's own lock."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def connect(path: Path | str, *schema: str) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    for statement in schema:
        conn.execute(statement)
    return conn
