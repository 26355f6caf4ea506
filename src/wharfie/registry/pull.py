"""Pull: reference → manifest (→ platform) → config → layers, verified, then the image.

`resolve()` talks to the registry until the image config is in hand, so "not found",
"unauthorized" and malformed manifests surface before a progress stream starts. `run()` then
fetches the missing layers, at most `CONCURRENCY` at a time (dockerd's default of 3). Each layer
streams once: network → digest/size check → decompression → diff-ID check → safe extraction
into a staging snapshot; nothing is committed unless every check passes, and a failed pull
garbage-collects the layers it had leased.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from wharfie.errors import DigestMismatch, Forbidden, InvalidArgument, NotFound, Unauthorized
from wharfie.images.layers import HashingReader
from wharfie.images.service import ImageService
from wharfie.oci import digest as dg
from wharfie.oci import mediatypes as mt
from wharfie.oci.reference import Reference
from wharfie.registry import manifest as mf
from wharfie.registry.blobreader import BlobReader, LayerStream, fetch_small
from wharfie.registry.blobsources import BlobSource, BlobSources
from wharfie.registry.progress import Emit, Progress
from wharfie.registry.session import Session, content_length, error_for

log = logging.getLogger("wharfie.registry")

CONCURRENCY = 3


@dataclass
class PullPlan:
    ref: Reference
    registry: str
    session: Session
    digest: str                       # of the manifest that was picked
    manifest: mf.ImageManifest
    config: bytes
    diff_ids: list[str]
    layers: list[mf.Descriptor]


@dataclass(frozen=True)
class PullResult:
    image_id: str
    digest: str
    up_to_date: bool


def fetch_manifest(session: Session, repo: str, ref: str) -> tuple[bytes, str]:
    """The manifest bytes (at most 4 MiB, read incrementally) and their content type."""
    resp = session.request("GET", f"/v2/{repo}/manifests/{ref}", headers={"Accept": mf.ACCEPT}, stream=True)
    try:
        if resp.status_code != 200:
            raise error_for(resp)  # reads a bounded part of the body
        declared = content_length(resp) or 0
        if declared > mf.MAX_MANIFEST:
            raise InvalidArgument(f"manifest too large: {declared} bytes (limit {mf.MAX_MANIFEST})")
        body = bytearray()
        for chunk in resp.iter_raw(1 << 16):
            body += chunk
            if len(body) > mf.MAX_MANIFEST:
                raise InvalidArgument(f"manifest too large: more than {mf.MAX_MANIFEST} bytes")
        return bytes(body), resp.headers.get("content-type", "")
    finally:
        resp.close()


def resolve(session: Session, ref: Reference, registry: str, platform: str) -> PullPlan:
    repo = ref.path
    target = ref.digest or ref.tag or "latest"
    try:
        data, ctype = fetch_manifest(session, repo, target)
    except NotFound as e:
        raise NotFound(f"manifest for {ref.familiar()} not found: {e}") from None
    except (Unauthorized, Forbidden) as e:
        raise NotFound(f"pull access denied for {ref.familiar_name}, repository does not exist or may "
                       f"require 'docker login': {e}") from None
    digest = dg.of_bytes(data)
    if ref.digest and digest != ref.digest:
        raise DigestMismatch(f"manifest verification failed for digest {ref.digest}")
    doc = mf.parse(data, ctype)
    if isinstance(doc, mf.ImageIndex):
        chosen = mf.select(doc, platform)
        data, ctype = fetch_manifest(session, repo, chosen.digest)
        if dg.of_bytes(data) != chosen.digest or len(data) != chosen.size:
            raise DigestMismatch(f"manifest verification failed for digest {chosen.digest}")
        doc = mf.parse(data, ctype)
        if isinstance(doc, mf.ImageIndex):
            raise InvalidArgument("invalid manifest: an index inside an index")
    layers = mf.image_layers(doc)
    config = fetch_small(session, repo, doc.config, mf.MAX_CONFIG)
    parsed, diff_ids = mf.parse_config(config, len(layers))
    _check_platform(ref, parsed, platform)
    return PullPlan(ref, registry, session, digest, doc, config, diff_ids, layers)


def _check_platform(ref: Reference, config: dict[str, Any], platform: str) -> None:
    if not platform:
        return
    want_os, want_arch, want_variant = mt.parse_platform(platform)
    got = (config.get("os") or "linux", config.get("architecture") or "", config.get("variant") or "")
    if got[0] != want_os or (got[1] and got[1] != want_arch) or (want_variant and got[2] and got[2] != want_variant):
        actual = "/".join(p for p in got if p)
        wanted = "/".join(p for p in (want_os, want_arch, want_variant) if p)
        raise NotFound(f"image with reference {ref.familiar()} was found but does not match the specified "
                       f"platform: wanted {wanted}, actual: {actual}")


class LayerFetch:
    """Downloads, verifies and ingests one layer, reporting Docker's per-layer statuses."""

    def __init__(self, plan: PullPlan, images: ImageService, progress: Progress, lease: set[str]) -> None:
        self.plan, self.images, self.progress, self.lease = plan, images, progress, lease

    def __call__(self, desc: mf.Descriptor, parent: str | None, diff_id: str) -> str:
        ident = desc.short
        got = [0]

        def downloaded(n: int) -> None:
            got[0] += n
            self.progress.bytes("Downloading", ident, got[0], desc.size)
            if got[0] == desc.size:
                self.progress.layer("Verifying Checksum", ident)
                self.progress.layer("Download complete", ident)

        with LayerStream(BlobReader(self.plan.session, self.plan.ref.path, desc, downloaded)) as tar:
            try:  # the stream verifies the blob's digest and size before its end-of-file
                row = self.images.layers.ingest(tar, parent, diff_id, self.lease)  # type: ignore[arg-type]
            except DigestMismatch as e:
                raise DigestMismatch(f"filesystem layer verification failed for digest {desc.digest}: {e}") from None
            except InvalidArgument as e:
                self._explain_bad_layer(desc, e)
                raise
        self.progress.bytes("Extracting", ident, desc.size, desc.size, force=True)
        self.progress.layer("Pull complete", ident)
        return row.chain_id

    def _explain_bad_layer(self, desc: mf.Descriptor, error: Exception) -> None:
        """A layer that failed to decompress or extract: when the blob does not even match its
        digest, say so (the registry sent the wrong bytes) rather than the codec's complaint.
        Only this failure path pays for fetching the blob again to hash it."""
        try:
            with BlobReader(self.plan.session, self.plan.ref.path, desc) as again:
                hashed = HashingReader(again)  # type: ignore[arg-type]
                hashed.drain()
        except Exception:  # noqa: BLE001 - the original error is the one to report
            return
        if hashed.digest != desc.digest:
            raise DigestMismatch(f"filesystem layer verification failed for digest {desc.digest}: "
                                 f"got {hashed.digest}") from error


def run(plan: PullPlan, images: ImageService, sources: BlobSources, emit: Emit | None) -> PullResult:
    progress = Progress(emit)
    ref = plan.ref
    progress.say(f"Pulling from {ref.path}", ref.digest or ref.tag or "latest")
    chains = dg.chain_ids(plan.diff_ids)
    try:
        with images.layers.lease() as lease:
            _fetch_layers(plan, images, progress, lease, chains)
            result = _record(plan, images, chains)
    except BaseException:
        images.gc()  # drop the layers this pull committed and leased, now unreferenced
        raise
    for desc, diff_id in zip(plan.layers, plan.diff_ids, strict=True):
        sources.add(BlobSource(diff_id, desc.digest, desc.media_type or mt.DOCKER_LAYER_GZIP, desc.size,
                               plan.registry, ref.path))
    progress.say(f"Digest: {plan.digest}")
    name = ref.familiar() if (ref.tag or ref.digest) else ref.with_default_tag().familiar()
    status = "Image is up to date for" if result.up_to_date else "Downloaded newer image for"
    progress.say(f"Status: {status} {name}")
    return result


def _fetch_layers(plan: PullPlan, images: ImageService, progress: Progress, lease: set[str],
                  chains: list[str]) -> None:
    todo = []
    for i, (desc, diff_id) in enumerate(zip(plan.layers, plan.diff_ids, strict=True)):
        parent = chains[i - 1] if i else None
        if images.layers.existing(parent, diff_id, lease) is not None:
            progress.layer("Already exists", desc.short)
        else:
            progress.layer("Pulling fs layer", desc.short)
            todo.append((desc, parent, diff_id))
    for desc, _, _ in todo[CONCURRENCY:]:
        progress.layer("Waiting", desc.short)
    if not todo:
        return
    fetch = LayerFetch(plan, images, progress, lease)
    with ThreadPoolExecutor(max_workers=CONCURRENCY, thread_name_prefix="wharfie-pull") as pool:
        futures = [pool.submit(fetch, d, p, i) for d, p, i in todo]
        try:
            for f in futures:
                f.result()
        except BaseException:
            for f in futures:
                f.cancel()
            raise


def _record(plan: PullPlan, images: ImageService, chains: list[str]) -> PullResult:
    ref = plan.ref
    image_id = dg.of_bytes(plan.config)
    tag_ref = str(ref.name_only().with_tag(ref.tag)) if ref.tag and not ref.digest else None
    digest_ref = f"{ref.name}@{plan.digest}"
    before = images.db.resolve_ref(tag_ref or digest_ref)
    images.add(plan.config, chains, [tag_ref] if tag_ref else [], None, repo_digests=[digest_ref])
    images.events.publish("image", "pull", ref.familiar(), {"name": ref.familiar()})
    return PullResult(image_id, plan.digest, before == image_id)
