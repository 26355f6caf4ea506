"""Manifests and indexes read from a registry: size limit, JSON shape, media types. Pure.

A registry is hostile until proven otherwise: a manifest is at most 4 MiB, must be a JSON
object with schemaVersion 2, and every descriptor must carry a valid sha256 digest and a
non-negative size. Schema 1 (signed) manifests are refused with the reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from wharfie.errors import InvalidArgument, NotFound
from wharfie.oci import digest as dg
from wharfie.oci import mediatypes as mt

MAX_MANIFEST = 4 << 20
MAX_CONFIG = 8 << 20
SCHEMA1 = {"application/vnd.docker.distribution.manifest.v1+json",
           "application/vnd.docker.distribution.manifest.v1+prettyjws"}
FOREIGN_LAYERS = {"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
                  "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"}
LAYER_TYPES = {mt.DOCKER_LAYER_GZIP, mt.DOCKER_LAYER, mt.OCI_LAYER, mt.OCI_LAYER_GZIP, mt.OCI_LAYER_ZSTD}
ACCEPT = ", ".join([mt.OCI_INDEX, mt.DOCKER_LIST, mt.OCI_MANIFEST, mt.DOCKER_MANIFEST])


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    platform: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def short(self) -> str:
        return dg.short_id(self.digest)


@dataclass(frozen=True)
class ImageManifest:
    media_type: str
    config: Descriptor
    layers: list[Descriptor]


@dataclass(frozen=True)
class ImageIndex:
    media_type: str
    manifests: list[Descriptor]


def descriptor(obj: Any, what: str) -> Descriptor:
    if not isinstance(obj, dict):
        raise InvalidArgument(f"invalid manifest: {what} is not a descriptor")
    size = obj.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise InvalidArgument(f"invalid manifest: {what} has no valid size")
    digest = obj.get("digest")
    if not isinstance(digest, str):
        raise InvalidArgument(f"invalid manifest: {what} has no digest")
    try:
        dg.validate(digest)
    except InvalidArgument as e:
        raise InvalidArgument(f"invalid manifest: {what}: {e}") from None
    platform = obj.get("platform") if isinstance(obj.get("platform"), dict) else {}
    return Descriptor(str(obj.get("mediaType") or ""), digest, size, platform or {}, obj)


def parse(data: bytes, content_type: str = "") -> ImageManifest | ImageIndex:
    """Validate a manifest or index document (already checked against its digest)."""
    if len(data) > MAX_MANIFEST:
        raise InvalidArgument(f"manifest too large: {len(data)} bytes (limit {MAX_MANIFEST})")
    try:
        doc = json.loads(data)
    except ValueError as e:
        raise InvalidArgument(f"invalid manifest: not valid JSON: {e}") from None
    if not isinstance(doc, dict):
        raise InvalidArgument("invalid manifest: not a JSON object")
    media = doc.get("mediaType") or content_type.split(";")[0].strip()
    if doc.get("schemaVersion") == 1 or media in SCHEMA1:
        raise InvalidArgument("unsupported manifest format: Docker Image manifest version 2, schema 1 "
                              "support has been removed; push the image again with a current client")
    if doc.get("schemaVersion") != 2:
        raise InvalidArgument(f"invalid manifest: unsupported schemaVersion {doc.get('schemaVersion')!r}")
    if "manifests" in doc or media in mt.INDEX_TYPES:
        items = doc.get("manifests")
        if not isinstance(items, list):
            raise InvalidArgument("invalid manifest: index without a manifests list")
        return ImageIndex(media or mt.OCI_INDEX, [descriptor(m, "index entry") for m in items])
    layers = doc.get("layers")
    if "config" not in doc or not isinstance(layers, list):
        raise InvalidArgument(f"invalid manifest: unsupported manifest media type {media!r}")
    return ImageManifest(media or mt.OCI_MANIFEST, descriptor(doc["config"], "config"),
                         [descriptor(layer, "layer") for layer in layers])


CONFIG_TYPES = {mt.DOCKER_CONFIG, mt.OCI_CONFIG, ""}


def image_layers(manifest: ImageManifest) -> list[Descriptor]:
    """The layers to download (foreign layers are skipped as Docker does); unknown types refused,
    and so are artifacts that are not container images (a Helm chart, a signature)."""
    if manifest.config.media_type not in CONFIG_TYPES:
        raise InvalidArgument(f'unsupported config media type "{manifest.config.media_type}": '
                              "not a container image")
    out = []
    for layer in manifest.layers:
        if layer.media_type in FOREIGN_LAYERS:
            continue
        if layer.media_type and layer.media_type not in LAYER_TYPES:
            raise InvalidArgument(f"unsupported layer media type {layer.media_type!r}")
        out.append(layer)
    return out


def select(index: ImageIndex, platform: str) -> Descriptor:
    """The entry for `platform` ("" = the host's); Docker's message when none matches."""
    chosen = mt.select_platform([d.raw for d in index.manifests], platform)
    if chosen is None:
        want = "/".join(p for p in mt.parse_platform(platform) if p)
        raise NotFound(f"no matching manifest for {want} in the manifest list entries")
    return descriptor(chosen, "index entry")


def platforms(index: ImageIndex) -> list[dict[str, Any]]:
    out = []
    for d in index.manifests:
        if (d.raw.get("annotations") or {}).get("vnd.docker.reference.type") == "attestation-manifest":
            continue
        p = d.platform
        out.append({"architecture": p.get("architecture", ""), "os": p.get("os", ""),
                    **({"variant": p["variant"]} if p.get("variant") else {}),
                    **({"os.version": p["os.version"]} if p.get("os.version") else {})})
    return out


def parse_config(data: bytes, layer_count: int) -> tuple[dict[str, Any], list[str]]:
    """The image config and its diff IDs, checked against the manifest's layer count."""
    try:
        config = json.loads(data)
        diff_ids = list(config["rootfs"]["diff_ids"])
    except (ValueError, KeyError, TypeError) as e:
        raise InvalidArgument(f"invalid image config: {e}") from None
    for d in diff_ids:
        if not isinstance(d, str):
            raise InvalidArgument("invalid image config: diff_ids must be digests")
        dg.validate(d)
    if len(diff_ids) != layer_count:
        raise InvalidArgument(f"invalid image: config lists {len(diff_ids)} layers, the manifest {layer_count}")
    return config, diff_ids
