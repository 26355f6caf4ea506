"""Where a layer's compressed blob already lives (dockerd's "v2 metadata").

The store keeps layers uncompressed, by diff ID. When a layer is pulled or pushed we remember
(diff ID → compressed digest, media type, size, registry, repository), so a later push can
HEAD the blob ("Layer already exists") or mount it from a sibling repository
("Mounted from …") instead of compressing and uploading it again. The table lives in the
metadata database; it is a cache: losing a row only costs an upload.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from wharfie.metadata.db import MetadataDB

SCHEMA = """
CREATE TABLE IF NOT EXISTS blob_sources (
    diff_id     TEXT NOT NULL,
    digest      TEXT NOT NULL,     -- the compressed blob in the registry
    media_type  TEXT NOT NULL,
    size        INTEGER NOT NULL,
    registry    TEXT NOT NULL,     -- host[:port] as in the reference
    repository  TEXT NOT NULL,     -- path within the registry
    added       REAL NOT NULL,
    PRIMARY KEY (diff_id, registry, repository, digest)
);
"""


@dataclass(frozen=True)
class BlobSource:
    diff_id: str
    digest: str
    media_type: str
    size: int
    registry: str
    repository: str


class BlobSources:
    def __init__(self, db: MetadataDB) -> None:
        self.db = db
        with db.tx() as c:
            c.execute(SCHEMA)

    def add(self, src: BlobSource) -> None:
        with self.db.tx() as c:
            c.execute("INSERT OR REPLACE INTO blob_sources VALUES (?,?,?,?,?,?,?)",
                      (src.diff_id, src.digest, src.media_type, src.size, src.registry, src.repository,
                       time.time()))

    def on_registry(self, diff_id: str, registry: str) -> list[BlobSource]:
        """Known blobs for a layer on one registry, most recent first."""
        rows = self.db.query("SELECT diff_id, digest, media_type, size, registry, repository FROM blob_sources "
                             "WHERE diff_id=? AND registry=? ORDER BY added DESC", (diff_id, registry))
        return [BlobSource(*r) for r in rows]

    def forget(self, src: BlobSource) -> None:
        with self.db.tx() as c:
            c.execute("DELETE FROM blob_sources WHERE diff_id=? AND registry=? AND repository=? AND digest=?",
                      (src.diff_id, src.registry, src.repository, src.digest))
