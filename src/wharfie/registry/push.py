"""Push: a local image → a registry, as Docker schema 2 (layers gzip-compressed on the fly).

Per layer, cheapest first: a blob this registry is known to hold in the same repository
(HEAD → "Layer already exists"), one it holds in a sibling repository (cross-repository mount →
"Mounted from …"), else compress with isal and upload in chunks ("Pushing" … "Pushed").
At most `CONCURRENCY` layers at a time (dockerd's default of 5). Then the config blob
(monolithic), then the manifest under the tag; the image gains the pushed repo digest.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, BinaryIO

import httpx

from wharfie.archive.compression import gzip_compress_stream
from wharfie.errors import NotFound, Unavailable
from wharfie.images.service import Image, ImageService
from wharfie.oci import digest as dg
from wharfie.oci import mediatypes as mt
from wharfie.oci.reference import Reference
from wharfie.registry import upload
from wharfie.registry.blobsources import BlobSource, BlobSources
from wharfie.registry.progress import Emit, Progress
from wharfie.registry.session import Session, error_for

CONCURRENCY = 5
UPLOAD_TRIES = 3
MOUNT_CANDIDATES = 3
REUSABLE = {mt.DOCKER_LAYER_GZIP: mt.DOCKER_LAYER_GZIP, mt.OCI_LAYER_GZIP: mt.DOCKER_LAYER_GZIP,
            mt.DOCKER_LAYER: mt.DOCKER_LAYER, mt.OCI_LAYER: mt.DOCKER_LAYER}


@dataclass
class PushTarget:
    ref: Reference          # the repository, with the tag being pushed
    image: Image
    registry: str


@dataclass(frozen=True)
class LayerDesc:
    media_type: str
    digest: str
    size: int


class _Counting:
    def __init__(self, inner: BinaryIO, seen: Any) -> None:
        self.inner, self.seen = inner, seen

    def read(self, n: int = -1) -> bytes:
        data = self.inner.read(n)
        if data:
            self.seen(len(data))
        return data


class LayerPush:
    def __init__(self, images: ImageService, sources: BlobSources, target: PushTarget, session: Session,
                 mount_session: Any, progress: Progress) -> None:
        self.images, self.sources, self.target = images, sources, target
        self.session, self.mount_session, self.progress = session, mount_session, progress

    def __call__(self, chain_id: str) -> LayerDesc:
        row = self.images.db.layer(chain_id)
        if row is None:
            raise NotFound(f"layer {chain_id} is not stored")
        ident = dg.short_id(row.diff_id)
        repo = self.target.ref.path
        known = [s for s in self.sources.on_registry(row.diff_id, self.target.registry) if s.media_type in REUSABLE]
        for src in (s for s in known if s.repository == repo):
            if upload.exists(self.session, repo, src.digest) is not None:
                self.progress.layer("Layer already exists", ident)
                return LayerDesc(REUSABLE[src.media_type], src.digest, src.size)
            self.sources.forget(src)
        for src in [s for s in known if s.repository != repo][:MOUNT_CANDIDATES]:
            if upload.mount(self.mount_session(src.repository), repo, src.digest, src.repository):
                self._remember(row.diff_id, src.digest, src.size, src.media_type)
                self.progress.layer(f"Mounted from {src.repository}", ident)
                return LayerDesc(REUSABLE[src.media_type], src.digest, src.size)
        return self._upload(row.blob, row.diff_id, ident)

    def _upload(self, blob: str, diff_id: str, ident: str) -> LayerDesc:
        """Compress and upload; a dropped connection or a 5xx restarts the upload (3 tries)."""
        for attempt in range(1, UPLOAD_TRIES + 1):
            try:
                digest, size = self._upload_once(blob, ident)
                break
            except (httpx.TransportError, Unavailable) as e:
                if attempt == UPLOAD_TRIES:
                    raise Unavailable(f"failed to upload layer {ident}: {e}") from None
                self.progress.layer(f"Retrying in {attempt * 2} seconds", ident)
                time.sleep(attempt * 2)
        self._remember(diff_id, digest, size, mt.DOCKER_LAYER_GZIP)
        self.progress.layer("Pushed", ident)
        return LayerDesc(mt.DOCKER_LAYER_GZIP, digest, size)

    def _upload_once(self, blob: str, ident: str) -> tuple[str, int]:
        total = self.images.content.size(blob)
        done = [0]

        def seen(n: int) -> None:
            done[0] += n
            self.progress.bytes("Pushing", ident, done[0], total)

        sink = upload.ChunkedUpload(self.session, self.target.ref.path)
        try:
            with self.images.content.open(blob) as fh:
                gzip_compress_stream(_Counting(fh, seen), sink, level=1)  # type: ignore[arg-type]
            return sink.finish()
        except BaseException:
            sink.abort()
            raise

    def _remember(self, diff_id: str, digest: str, size: int, media_type: str) -> None:
        self.sources.add(BlobSource(diff_id, digest, media_type, size, self.target.registry, self.target.ref.path))


def run(images: ImageService, sources: BlobSources, target: PushTarget, session: Session,
        mount_session: Any, emit: Emit | None) -> tuple[str, int]:
    """Push one tag; returns (manifest digest, manifest size)."""
    progress = Progress(emit)
    image = target.image
    chain = images.db.image_chain(image.id)
    for c in reversed(chain):
        progress.layer("Preparing", dg.short_id(_diff_id(images, c)))
    for c in list(reversed(chain))[CONCURRENCY:]:
        progress.layer("Waiting", dg.short_id(_diff_id(images, c)))
    job = LayerPush(images, sources, target, session, mount_session, progress)
    with ThreadPoolExecutor(max_workers=CONCURRENCY, thread_name_prefix="wharfie-push") as pool:
        futures = [pool.submit(job, c) for c in reversed(chain)]
        layers = list(reversed([f.result() for f in futures]))
    config = images.content.read_bytes(image.id)
    repo = target.ref.path
    if upload.exists(session, repo, image.id) is None:
        upload.put_bytes(session, repo, config, image.id)
    manifest = _manifest(config, image.id, layers)
    digest = put_manifest(session, repo, target.ref.tag or "latest", manifest)
    images.db.set_refs(image.id, [(f"{target.ref.name}@{digest}", True)], time.time())
    tag = target.ref.tag or "latest"
    progress.say(f"{tag}: digest: {digest} size: {len(manifest)}")
    progress.aux({"Tag": tag, "Digest": digest, "Size": len(manifest)})
    images.events.publish("image", "push", target.ref.familiar(), {"name": target.ref.familiar()})
    return digest, len(manifest)


def _diff_id(images: ImageService, chain_id: str) -> str:
    row = images.db.layer(chain_id)
    return row.diff_id if row else chain_id


def _manifest(config: bytes, config_digest: str, layers: list[LayerDesc]) -> bytes:
    doc = {
        "schemaVersion": 2,
        "mediaType": mt.DOCKER_MANIFEST,
        "config": {"mediaType": mt.DOCKER_CONFIG, "size": len(config), "digest": config_digest},
        "layers": [{"mediaType": layer.media_type, "size": layer.size, "digest": layer.digest} for layer in layers],
    }
    return json.dumps(doc, indent=3).encode()


def put_manifest(session: Session, repo: str, tag: str, manifest: bytes) -> str:
    resp = session.request("PUT", f"/v2/{repo}/manifests/{tag}", content=manifest,
                           headers={"Content-Type": mt.DOCKER_MANIFEST}, idempotent=False)
    if resp.status_code not in (200, 201, 202):
        raise error_for(resp, "failed to upload the manifest")
    return dg.of_bytes(manifest)
