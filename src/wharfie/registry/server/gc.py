"""Garbage collection: delete blobs that no manifest in any repository references.

Mark: every manifest revision of every repository, plus the config, layers and child
manifests it names. Sweep: every other blob, then the repository links that pointed at a
deleted blob. A blob younger than `grace` seconds is kept: it may belong to a push whose
manifest has not arrived yet (the offline `wharfie registry gc` holds the root lock, so no push
can be in flight and grace defaults to 0 there). With `delete_untagged`, manifests no tag
reaches are deleted first, like the reference registry's `--delete-untagged`. Blocking.
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
    untagged: list[str] = field(default_factory=list)  # repo@digest manifests removed
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


def untagged(storage: Storage, repo: str) -> list[str]:
    """Manifests of `repo` no tag reaches, directly, as an index's child, or as a referrer of
    a reachable manifest (signatures and SBOMs stay with their image)."""
    reachable: set[str] = set()
    stack = [storage.resolve(repo, tag)[0] for tag in storage.tags(repo)]
    while stack:
        digest = stack.pop()
        if digest in reachable:
            continue
        reachable.add(digest)
        stack.extend(storage.referrer_digests(repo, digest))
        try:
            stack.extend(parse_manifest(storage.read_manifest(digest), "").manifests)
        except (RegistryError, WharfieError):
            continue
    return sorted(set(storage.revisions(repo)) - reachable)


def collect(storage: Storage, grace: float = 0.0, dry_run: bool = False,
            delete_untagged: bool = False) -> Report:
    report = Report()
    if delete_untagged:
        for repo in storage.repositories():
            for digest in untagged(storage, repo):
                report.untagged.append(f"{repo}@{digest}")
                if not dry_run:
                    storage.delete_manifest(repo, digest)
    live = mark(storage)
    report.marked = len(live)
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
