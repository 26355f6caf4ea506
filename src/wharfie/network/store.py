"""Networks and address leases of record (SQLite, WAL, short transactions).

    networks(id, name UNIQUE, doc)             doc = Docker's network inspect shape, minus
                                               the computed `Containers`
    leases(network, address, owner)            one row per address in use: the gateway
                                               (owner "gateway") and each endpoint's address
                                               (owner = container ID), PRIMARY KEY(network,
                                               address) so no address is ever leased twice
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

from wharfie.errors import Conflict, NotFound
from wharfie.metadata import sqlite

Doc = dict[str, Any]


class NetworkStore:
    def __init__(self, path: Path) -> None:
        self.conn = sqlite.connect(
            path,
            "CREATE TABLE IF NOT EXISTS networks (id TEXT PRIMARY KEY, name TEXT UNIQUE NOT NULL, doc TEXT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS leases (network TEXT NOT NULL, address TEXT NOT NULL, "
            "owner TEXT NOT NULL, PRIMARY KEY(network, address))")
        self.lock = threading.RLock()
        self.cache: dict[str, Doc] = {
            nid: json.loads(doc) for nid, doc in self.conn.execute("SELECT id, doc FROM networks")}

    # -- networks --------------------------------------------------------------------------
    def insert(self, doc: Doc) -> None:
        with self.lock:
            try:
                self.conn.execute("INSERT INTO networks(id, name, doc) VALUES (?,?,?)",
                                  (doc["Id"], doc["Name"], json.dumps(doc)))
            except sqlite3.IntegrityError:
                raise Conflict(f"network with name {doc['Name']} already exists") from None
            self.cache[doc["Id"]] = doc

    def delete(self, nid: str) -> None:
        with self.lock:
            self.conn.execute("BEGIN")
            self.conn.execute("DELETE FROM networks WHERE id=?", (nid,))
            self.conn.execute("DELETE FROM leases WHERE network=?", (nid,))
            self.conn.execute("COMMIT")
            self.cache.pop(nid, None)

    def all(self) -> list[Doc]:
        with self.lock:
            return list(self.cache.values())

    def get(self, ref: str) -> Doc:
        """By full ID, exact name, or unique ID prefix (Docker's order)."""
        with self.lock:
            if ref in self.cache:
                return self.cache[ref]
            for doc in self.cache.values():
                if doc["Name"] == ref:
                    return doc
            if ref:
                matches = [d for nid, d in self.cache.items() if nid.startswith(ref)]
                if len(matches) == 1:
                    return matches[0]
                if len(matches) > 1:
                    raise NotFound(f"network {ref} is ambiguous ({len(matches)} matches found based on ID prefix)")
        raise NotFound(f"network {ref} not found")

    # -- leases ----------------------------------------------------------------------------
    def used(self, nid: str) -> set[str]:
        with self.lock:
            return {a for (a,) in self.conn.execute("SELECT address FROM leases WHERE network=?", (nid,))}

    def lease(self, nid: str, address: str, owner: str) -> bool:
        """Take `address` for `owner`; False when someone else holds it."""
        with self.lock:
            try:
                self.conn.execute("INSERT INTO leases(network, address, owner) VALUES (?,?,?)",
                                  (nid, address, owner))
                return True
            except sqlite3.IntegrityError:
                row = self.conn.execute("SELECT owner FROM leases WHERE network=? AND address=?",
                                        (nid, address)).fetchone()
                return bool(row and row[0] == owner)

    def release(self, nid: str, owner: str, address: str | None = None) -> None:
        with self.lock:
            if address is None:
                self.conn.execute("DELETE FROM leases WHERE network=? AND owner=?", (nid, owner))
            else:
                self.conn.execute("DELETE FROM leases WHERE network=? AND owner=? AND address=?",
                                  (nid, owner, address))

    def leases(self) -> list[tuple[str, str, str]]:
        with self.lock:
            return list(self.conn.execute("SELECT network, address, owner FROM leases"))

    def close(self) -> None:
        with self.lock:
            self.conn.close()
