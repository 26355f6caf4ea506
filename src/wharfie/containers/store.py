"""Container records of record: one SQLite row per container holding its inspect document.

The document is Docker's ContainerInspectResponse shape (what `docker inspect` shows), so
inspect is a read and every state change is one short transaction that rewrites the row.
Names are unique (the column is UNIQUE), which makes `--name` races impossible.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from wharfie.errors import Conflict, NotFound
from wharfie.metadata import sqlite

Doc = dict[str, Any]


class ContainerStore:
    def __init__(self, path: Path) -> None:
        self.conn = sqlite.connect(path, "CREATE TABLE IF NOT EXISTS containers (id TEXT PRIMARY KEY, "
                                         "name TEXT UNIQUE NOT NULL, created REAL NOT NULL, doc TEXT NOT NULL)")
        self.lock = threading.RLock()
        self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="container-store")
        self.cache: dict[str, Doc] = {}
        for cid, doc in self.conn.execute("SELECT id, doc FROM containers"):
            self.cache[cid] = json.loads(doc)

    def insert(self, doc: Doc, created: float) -> None:
        with self.lock:
            try:
                self.conn.execute("INSERT INTO containers(id, name, created, doc) VALUES (?,?,?,?)",
                                  (doc["Id"], doc["Name"], created, json.dumps(doc)))
            except sqlite3.IntegrityError as e:
                raise Conflict(f'Conflict. The container name "{doc["Name"]}" is already in use by container '
                               f'"{self.id_by_name(doc["Name"])}". You have to remove (or rename) that '
                               "container to be able to reuse that name.") from e
            self.cache[doc["Id"]] = doc

    def save(self, doc: Doc) -> None:
        """Persist a changed document (state, name, restart count …)."""
        with self.lock:
            cur = self.conn.execute("UPDATE containers SET name=?, doc=? WHERE id=?",
                                    (doc["Name"], json.dumps(doc), doc["Id"]))
            if cur.rowcount == 0:
                raise NotFound(f"No such container: {doc['Id']}")
            self.cache[doc["Id"]] = doc

    async def persist(self, doc: Doc) -> None:
        """`save` for the event loop: the document is serialised here (a consistent snapshot)
        and written by the store's one writer thread, so writes land in the order they were
        made and the loop never waits on SQLite (a WAL checkpoint can fsync)."""
        text = json.dumps(doc)
        await asyncio.get_running_loop().run_in_executor(self.writer, self._write, doc["Id"], doc["Name"], text)
        with self.lock:
            self.cache[doc["Id"]] = doc

    def _write(self, cid: str, name: str, text: str) -> None:
        with self.lock:
            cur = self.conn.execute("UPDATE containers SET name=?, doc=? WHERE id=?", (name, text, cid))
        if cur.rowcount == 0:
            raise NotFound(f"No such container: {cid}")

    def rename(self, doc: Doc, new_name: str) -> None:
        with self.lock:
            old = doc["Name"]
            doc["Name"] = new_name
            try:
                self.save(doc)
            except sqlite3.IntegrityError as e:
                doc["Name"] = old
                raise Conflict(f'Conflict. The container name "{new_name}" is already in use by container '
                               f'"{self.id_by_name(new_name)}". You have to remove (or rename) that container '
                               "to be able to reuse that name.") from e

    def delete(self, cid: str) -> None:
        with self.lock:
            self.conn.execute("DELETE FROM containers WHERE id=?", (cid,))
            self.cache.pop(cid, None)

    def id_by_name(self, name: str) -> str:
        for cid, doc in self.cache.items():
            if doc["Name"] == name:
                return cid
        return ""

    def all(self) -> list[Doc]:
        with self.lock:
            return list(self.cache.values())

    def get(self, ref: str) -> Doc:
        """By full ID, exact name (with or without '/'), or unique ID prefix — Docker's order."""
        with self.lock:
            if ref in self.cache:
                return self.cache[ref]
            name = ref if ref.startswith("/") else "/" + ref
            cid = self.id_by_name(name)
            if cid:
                return self.cache[cid]
            if ref and all(c in "0123456789abcdef" for c in ref):
                matches = [c for c in self.cache if c.startswith(ref)]
                if len(matches) == 1:
                    return self.cache[matches[0]]
                if len(matches) > 1:
                    raise NotFound(f"No such container: {ref} (multiple IDs match)")
        raise NotFound(f"No such container: {ref}")

    def close(self) -> None:
        self.writer.shutdown(wait=True)
        with self.lock:
            self.conn.close()
