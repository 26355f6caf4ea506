"""The registry's files: one blob store, and per repository the links that make blobs visible.

    ROOT/blobs/sha256/<hex>                              every blob and manifest, once
    ROOT/ingest/                                         temp files (emptied on start)
    ROOT/uploads/<uuid>                                  upload sessions (see `uploads`)
    ROOT/repositories/<name>/_layers/<hex>               blob linked into the repo (empty file)
    ROOT/repositories/<name>/_manifests/revisions/<hex>  manifest in the repo (holds its media type)
    ROOT/repositories/<name>/_manifests/tags/<tag>       tag → manifest digest
    ROOT/repositories/<name>/_referrers/<subject-hex>/<hex>  manifest whose `subject` is <subject>

A blob is visible in a repository only through a link, so a blob pushed to `a` is unknown in
`b` until it is pushed or mounted there. Every write is temp → fsync → rename (→ fsync of the
directory), so a crash leaves whole files or nothing, plus temp files that `recover()` removes.
Repository name components never start with `_`, so the `_layers`… dirs cannot clash with
nested repository names. All methods block: callers run them in a worker thread.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

from wharfie.content import store
from wharfie.content.store import ContentStore
from wharfie.errors import WharfieError
from wharfie.oci import digest as dg
from wharfie.registry.server.errors import RegistryError
from wharfie.registry.server.manifests import Manifest, referrer_descriptor
from wharfie.registry.server.manifests import parse as parse_manifest


def make_dirs(path: Path) -> None:
    """mkdir -p, fsyncing the parent of each directory it creates (else a power loss can
    drop a new directory, and the files renamed into it, after we answered 201)."""
    if path.is_dir():
        return
    make_dirs(path.parent)
    try:
        path.mkdir()
    except FileExistsError:
        pass  # a concurrent request made it, maybe not yet durably: fsync anyway
    store.fsync_dir(path.parent)


class Storage:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.blobs = ContentStore(self.root)
        self.repos = self.root / "repositories"
        self.repos.mkdir(parents=True, exist_ok=True)

    def recover(self) -> int:
        """At start: drop temp files a crash may have left (never a committed file)."""
        return self.blobs.clean_ingest()

    # -- small files -----------------------------------------------------------------------
    def _write_atomic(self, path: Path, data: bytes) -> None:
        tmp = self.blobs.ingest_dir / uuid.uuid4().hex
        self._write_file(tmp, data)
        make_dirs(path.parent)
        os.rename(tmp, path)
        store.fsync_dir(path.parent)

    def commit_blob(self, tmp: Path, digest: str) -> None:
        """Move a verified, fsynced temp file into the blob store (a no-op if already there)."""
        final = self.blobs.path(digest)
        if final.exists():
            tmp.unlink()
            os.utime(final)  # fresh again: a GC grace period must not take it mid-push
            return
        os.rename(tmp, final)
        store.fsync_dir(final.parent)

    # -- repositories ----------------------------------------------------------------------
    def repo(self, name: str) -> Path:
        return self.repos / name  # `name` has passed names.check_name: no `..`, no leading `/`

    def repo_exists(self, name: str) -> bool:
        r = self.repo(name)
        return (r / "_layers").is_dir() or (r / "_manifests").is_dir()

    def repositories(self) -> list[str]:
        out = []
        for dirpath, dirnames, _files in os.walk(self.repos):
            if "_layers" in dirnames or "_manifests" in dirnames:
                out.append(os.path.relpath(dirpath, self.repos))
            dirnames[:] = [d for d in dirnames if not d.startswith("_")]
        return sorted(out)

    # -- blobs in a repository ---------------------------------------------------------------
    def _layer_link(self, name: str, digest: str) -> Path:
        return self.repo(name) / "_layers" / dg.hex_of(digest)

    def _revision(self, name: str, digest: str) -> Path:
        return self.repo(name) / "_manifests" / "revisions" / dg.hex_of(digest)

    def blob_size(self, name: str, digest: str) -> int:
        """Size of a blob visible in `name` (a layer, config or manifest), else BLOB_UNKNOWN."""
        linked = self._layer_link(name, digest).exists() or self._revision(name, digest).exists()
        try:
            if linked:
                return self.blobs.path(digest).stat().st_size
        except FileNotFoundError:
            pass  # a link left behind by blob GC: the blob is gone
        raise RegistryError("BLOB_UNKNOWN", f"blob {digest} unknown to repository {name}")

    def link_blob(self, name: str, digest: str) -> None:
        link = self._layer_link(name, digest)
        if not link.exists():
            self._write_atomic(link, b"")
        os.utime(self.blobs.path(digest))  # fresh again: a GC grace period must not take it

    def unlink_blob(self, name: str, digest: str) -> None:
        try:
            self._layer_link(name, digest).unlink()
        except FileNotFoundError:
            raise RegistryError("BLOB_UNKNOWN", f"blob {digest} unknown to repository {name}") from None

    def visible(self, name: str, digest: str) -> bool:
        """Is the blob linked into repository `name`? (Only then can it be mounted from it.)"""
        try:
            self.blob_size(name, digest)
            return True
        except RegistryError:
            return False

    # -- manifests and tags --------------------------------------------------------------------
    def put_manifest(self, name: str, data: bytes, m: Manifest, tag: str | None, digest: str) -> str:
        """Store a parsed manifest whose `digest` the caller computed (from `data`)."""
        missing = [d for d in m.blobs if not self.visible(name, d)]
        missing += [d for d in m.manifests if not self._revision(name, d).exists()]
        if missing:
            raise RegistryError(
                "MANIFEST_BLOB_UNKNOWN", f"manifest references {len(missing)} unknown blob(s)",
                detail=[{"digest": d} for d in missing])
        if not self.blobs.exists(digest):
            tmp = self.blobs.ingest_dir / uuid.uuid4().hex
            self._write_file(tmp, data)
            self.commit_blob(tmp, digest)
        self._write_atomic(self._revision(name, digest), m.media_type.encode())
        if m.subject:
            link = self.repo(name) / "_referrers" / dg.hex_of(m.subject) / dg.hex_of(digest)
            self._write_atomic(link, b"")
        if tag:
            self._write_atomic(self.repo(name) / "_manifests" / "tags" / tag, digest.encode())
        return digest

    @staticmethod
    def _write_file(path: Path, data: bytes) -> None:
        with open(path, "xb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())

    def resolve(self, name: str, reference: str) -> tuple[str, str]:
        """Tag or digest → (digest, media type) of a manifest in `name`, else MANIFEST_UNKNOWN."""
        digest = reference
        if ":" not in reference:
            try:
                digest = (self.repo(name) / "_manifests" / "tags" / reference).read_text()
            except (FileNotFoundError, NotADirectoryError):
                raise RegistryError("MANIFEST_UNKNOWN", f"manifest {name}:{reference} unknown") from None
        try:
            return digest, self._revision(name, digest).read_text()
        except FileNotFoundError:
            raise RegistryError("MANIFEST_UNKNOWN", f"manifest {name}@{digest} unknown") from None

    def read_manifest(self, digest: str) -> bytes:
        return self.blobs.read_bytes(digest)

    def tags(self, name: str) -> list[str]:
        if not self.repo_exists(name):
            raise RegistryError("NAME_UNKNOWN", f"repository {name} not known to registry")
        tag_dir = self.repo(name) / "_manifests" / "tags"
        return sorted(p.name for p in tag_dir.iterdir()) if tag_dir.is_dir() else []

    def delete_tag(self, name: str, tag: str) -> None:
        try:
            (self.repo(name) / "_manifests" / "tags" / tag).unlink()
        except FileNotFoundError:
            raise RegistryError("MANIFEST_UNKNOWN", f"tag {name}:{tag} unknown") from None

    def delete_manifest(self, name: str, digest: str) -> None:
        """Remove a revision, the tags that point at it, and its referrer link."""
        self.resolve(name, digest)
        data = self.read_manifest(digest)
        for tag in self.tags(name):
            if self.resolve(name, tag)[0] == digest:
                self.delete_tag(name, tag)
        try:
            subject = parse_manifest(data, "").subject
        except RegistryError:
            subject = None
        if subject:
            link = self.repo(name) / "_referrers" / dg.hex_of(subject) / dg.hex_of(digest)
            link.unlink(missing_ok=True)
        self._revision(name, digest).unlink()

    def referrers(self, name: str, subject: str, artifact_type: str = "") -> list[dict[str, object]]:
        out = []
        for digest in self.referrer_digests(name, subject):
            try:
                media_type = self._revision(name, digest).read_text()
                data = self.read_manifest(digest)
            except (FileNotFoundError, RegistryError, WharfieError):
                continue  # deleted meanwhile
            m = parse_manifest(data, media_type)
            if artifact_type and m.artifact_type != artifact_type:
                continue
            out.append(referrer_descriptor(m, digest, len(data)))
        return out

    def referrer_digests(self, name: str, subject: str) -> Iterator[str]:
        d = self.repo(name) / "_referrers" / dg.hex_of(subject)
        if d.is_dir():
            for p in sorted(d.iterdir()):
                yield "sha256:" + p.name

    def revisions(self, name: str) -> Iterator[str]:
        d = self.repo(name) / "_manifests" / "revisions"
        if d.is_dir():
            for p in d.iterdir():
                yield "sha256:" + p.name

    def layer_links(self, name: str) -> Iterator[tuple[str, Path]]:
        d = self.repo(name) / "_layers"
        if d.is_dir():
            for p in d.iterdir():
                yield "sha256:" + p.name, p
