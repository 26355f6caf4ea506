"""Garbage collection: delete blobs that no manifest in any repository references.

Mark: every manifest revision of every repository, plus the config, layers and child
manifests it names. Sweep: every other blob, then the repository links that pointed at a
deleted blob. A blob younger than `grace` seconds is kept: it may belong to a push whose
manifest has not arrived yet (the offline `wharfie registry gc` holds the root lock, so no push
can be in flight and grace defaults to 0 there). Blocking; runs in a worker thread.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from wharfie.errors import WharfieError
from wharfie.registry.server.errors import RegistryError
from wharfie.registry.server.manifests import parse as parse_manifest
from wharfie.registry.server.storage import Storage

log = logging.getLogger("wharfie.registry.gc")


@dataclass
class Report:
    marked: int = 0
    deleted: list[str] = field(default_factory=list)
    freed: int = 0


def mark(storage: Storage) -> set[str]:
    live: set[str] = set()
    for repo in storage.repositories():
        for digest in storage.revisions(repo):
            live.add(digest)
            try:
                media_type = storage.resolve(repo, digest)[1]
                m = parse_manifest(storage.read_manifest(digest), media_type)
            except (RegistryError, WharfieError) as e:
                log.warning("gc: skipping unreadable manifest %s in %s: %s", digest, repo, e)
                continue
            live.update(m.blobs, m.manifests)
    return live


def collect(storage: Storage, grace: float = 0.0, dry_run: bool = False) -> Report:
    live = mark(storage)
    report = Report(marked=len(live))
    cutoff = time.time() - grace
    for digest in list(storage.blobs.digests()):
        if digest in live:
            continue
        path = storage.blobs.path(digest)
        try:
            st = path.stat()
        except FileNotFoundError:
            continue
        if st.st_mtime > cutoff:
            continue
        report.deleted.append(digest)
        report.freed += st.st_size
        if not dry_run:
            path.unlink(missing_ok=True)
    if not dry_run:
        _drop_dangling_links(storage)
    return report


def _drop_dangling_links(storage: Storage) -> None:
    for repo in storage.repositories():
        for digest, link in storage.layer_links(repo):
            if not storage.blobs.exists(digest):
                link.unlink(missing_ok=True)
