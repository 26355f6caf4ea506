"""`docker load`: docker-save archives (manifest.json) and OCI image layouts (index.json).

The archive has been spooled to a seekable, decompressed tar file first: member order is not
guaranteed (manifest.json often comes last), so we index members and then read what the
manifests name. Every blob is verified: configs by their digest, OCI blobs by their
descriptor's digest and size, and every layer by the diff ID its config declares.
"""

from __future__ import annotations

import json
import posixpath
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

from wharfie.errors import DigestMismatch, InvalidArgument, NotFound
from wharfie.images.layers import BlobExpectation
from wharfie.images.service import ImageService, familiar
from wharfie.oci import digest as dg
from wharfie.oci import mediatypes as mt
from wharfie.oci import reference

MAX_JSON = 8 << 20
MAX_LINK_HOPS = 16
Emit = Callable[[str], None]


@dataclass
class ImageEntry:
    config: bytes
    layers: list[Callable[[], IO[bytes]]]   # openers for each layer blob, bottom first
    blob_checks: list[BlobExpectation | None]
    tags: list[str]


class ArchiveReader:
    """Read members of a (hostile) archive by normalised name, following in-archive symlinks."""

    def __init__(self, tf: tarfile.TarFile) -> None:
        self.tf = tf
        self.members: dict[str, tarfile.TarInfo] = {}
        for m in tf.getmembers():
            self.members[_norm(m.name)] = m

    def has(self, name: str) -> bool:
        return _norm(name) in self.members

    def member(self, name: str) -> tarfile.TarInfo:
        key = _norm(name)
        for _ in range(MAX_LINK_HOPS):
            m = self.members.get(key)
            if m is None:
                raise InvalidArgument(f"invalid archive: {name} is missing")
            if m.issym():
                key = _norm(posixpath.join(posixpath.dirname(key), m.linkname))
            elif m.islnk():
                key = _norm(m.linkname)
            elif m.isfile():
                return m
            else:
                raise InvalidArgument(f"invalid archive: {name} is not a regular file")
        raise InvalidArgument(f"invalid archive: too many links resolving {name}")

    def open(self, name: str) -> IO[bytes]:
        fh = self.tf.extractfile(self.member(name))
        assert fh is not None
        return fh

    def read(self, name: str, limit: int = MAX_JSON) -> bytes:
        m = self.member(name)
        if m.size > limit:
            raise InvalidArgument(f"invalid archive: {name} is larger than {limit} bytes")
        with self.open(name) as fh:
            return fh.read()

    def json(self, name: str) -> Any:
        try:
            return json.loads(self.read(name))
        except ValueError as e:
            raise InvalidArgument(f"invalid archive: {name} is not valid JSON: {e}") from e


def _norm(name: str) -> str:
    n = posixpath.normpath("/" + name).lstrip("/")
    return n


def load_archive(images: ImageService, path: str, emit: Emit, platform: str = "") -> list[str]:
    """Load every image in the spooled archive at `path`; returns their IDs."""
    try:
        tf = tarfile.open(path, "r:")
    except tarfile.TarError as e:
        raise InvalidArgument(f"invalid archive: not a tar file ({e})") from e
    with tf:
        archive = ArchiveReader(tf)
        if archive.has("manifest.json"):
            entries = _docker_entries(archive)
        elif archive.has("index.json"):
            entries = _oci_entries(archive, platform)
        else:
            raise InvalidArgument("invalid archive: neither manifest.json nor index.json found "
                                  "(is this a docker save or OCI image-layout archive?)")
        if not entries:
            raise InvalidArgument("invalid archive: it contains no images")
        return [_store(images, e, emit) for e in entries]


def _store(images: ImageService, entry: ImageEntry, emit: Emit) -> str:
    try:
        config = json.loads(entry.config)
        diff_ids = list(config["rootfs"]["diff_ids"])
    except (ValueError, KeyError, TypeError) as e:
        raise InvalidArgument(f"invalid image config: {e}") from e
    if len(diff_ids) != len(entry.layers):
        raise InvalidArgument(f"invalid archive: config lists {len(diff_ids)} layers but the manifest has {len(entry.layers)}")
    for d in diff_ids:
        dg.validate(d)
    with images.layers.lease() as lease:
        parent: str | None = None
        for diff_id, opener, check in zip(diff_ids, entry.layers, entry.blob_checks, strict=True):
            row = images.layers.existing(parent, diff_id, lease)
            if row is None:
                with opener() as fh:
                    row = images.layers.ingest(fh, parent, diff_id, lease, check)  # type: ignore[arg-type]
            parent = row.chain_id
        chain = dg.chain_ids(diff_ids)
        moved = _tags_moving(images, entry.tags, dg.of_bytes(entry.config))
        image_id = images.add(entry.config, chain, entry.tags, "load")
    for old_id, tag in moved:
        emit(f"The image {tag} already exists, renaming the old one with ID {old_id} to empty string")
    if entry.tags:
        for t in entry.tags:
            emit(f"Loaded image: {familiar(str(reference.parse_docker_ref(t)))}")
    else:
        emit(f"Loaded image ID: {image_id}")
    return image_id


def _tags_moving(images: ImageService, tags: list[str], new_id: str) -> list[tuple[str, str]]:
    out = []
    for t in tags:
        old = images.db.resolve_ref(str(reference.parse_docker_ref(t)))
        if old and old != new_id:
            out.append((old, familiar(str(reference.parse_docker_ref(t)))))
    return out


# -- docker save (manifest.json) ------------------------------------------------------------
def _docker_entries(archive: ArchiveReader) -> list[ImageEntry]:
    manifest = archive.json("manifest.json")
    if not isinstance(manifest, list):
        raise InvalidArgument("invalid archive: manifest.json is not a list")
    entries = []
    for item in manifest:
        if not isinstance(item, dict) or not isinstance(item.get("Config"), str):
            raise InvalidArgument("invalid archive: manifest.json entry without Config")
        layers = item.get("Layers") or []
        if not all(isinstance(x, str) for x in layers):
            raise InvalidArgument("invalid archive: manifest.json Layers must be paths")
        tags = item.get("RepoTags") or []
        for t in tags:
            reference.parse(t)  # refuse bad names before any work
        entries.append(ImageEntry(
            config=archive.read(item["Config"]),
            layers=[_opener(archive, p) for p in layers],
            blob_checks=[_blob_check_from_path(archive, p) for p in layers],
            tags=list(tags),
        ))
    return entries


def _opener(archive: ArchiveReader, name: str) -> Callable[[], IO[bytes]]:
    archive.member(name)  # fail early when missing
    return lambda: archive.open(name)


def _blob_check_from_path(archive: ArchiveReader, name: str) -> BlobExpectation | None:
    """Layers stored as `blobs/sha256/<hex>` are verified against that digest as well."""
    parts = _norm(name).split("/")
    if len(parts) == 3 and parts[0] == "blobs" and parts[1] == "sha256" and dg.is_full_hex_id(parts[2]):
        return BlobExpectation("sha256:" + parts[2], archive.member(name).size)
    return None


# -- OCI image layout (index.json) ----------------------------------------------------------
def _oci_entries(archive: ArchiveReader, platform: str) -> list[ImageEntry]:
    index = archive.json("index.json")
    entries = []
    for desc in (index or {}).get("manifests") or []:
        name = _oci_name(desc.get("annotations") or {})
        manifest = _resolve_manifest(archive, desc, platform, depth=0)
        entries.append(_oci_image(archive, manifest, [name] if name else []))
    return _merge_same_config(entries)


def _oci_name(annotations: dict[str, str]) -> str | None:
    """Docker/containerd put the full name in io.containerd.image.name; skopeo and others put
    a name or just a tag in org.opencontainers.image.ref.name (a bare tag names nothing)."""
    full = annotations.get(mt.ANNOTATION_CONTAINERD_NAME)
    if full:
        return full
    ref_name = annotations.get(mt.ANNOTATION_REF_NAME, "")
    if ref_name and ("/" in ref_name or ":" in ref_name):
        try:
            reference.parse(ref_name)
            return ref_name
        except InvalidArgument:
            return None
    return None


def _read_blob(archive: ArchiveReader, desc: dict[str, Any], limit: int = MAX_JSON) -> bytes:
    digest = dg.validate(str(desc.get("digest", "")))
    data = archive.read(f"blobs/sha256/{dg.hex_of(digest)}", limit)
    if dg.of_bytes(data) != digest:
        raise DigestMismatch(f"blob {digest} does not match its digest")
    if desc.get("size") is not None and desc["size"] != len(data):
        raise DigestMismatch(f"blob {digest} has size {len(data)}, descriptor says {desc['size']}")
    return data


def _resolve_manifest(archive: ArchiveReader, desc: dict[str, Any], platform: str, depth: int) -> dict[str, Any]:
    if depth > 4:
        raise InvalidArgument("invalid archive: indexes nested too deeply")
    doc = json.loads(_read_blob(archive, desc))
    media = doc.get("mediaType") or desc.get("mediaType", "")
    if media in mt.INDEX_TYPES or "manifests" in doc:
        chosen = mt.select_platform(doc.get("manifests") or [], platform)
        if chosen is None:
            raise NotFound(f"no image in the archive matches platform {platform or mt.host_platform()}")
        return _resolve_manifest(archive, chosen, platform, depth + 1)
    if "config" not in doc or "layers" not in doc:
        raise InvalidArgument(f"invalid archive: unsupported manifest media type {media!r}")
    return doc


def _oci_image(archive: ArchiveReader, manifest: dict[str, Any], tags: list[str]) -> ImageEntry:
    config = _read_blob(archive, manifest["config"])
    layers: list[Callable[[], IO[bytes]]] = []
    checks: list[BlobExpectation | None] = []
    for layer in manifest["layers"]:
        digest = dg.validate(str(layer.get("digest", "")))
        path = f"blobs/sha256/{dg.hex_of(digest)}"
        layers.append(_opener(archive, path))
        checks.append(BlobExpectation(digest, layer.get("size")))
    return ImageEntry(config, layers, checks, tags)


def _merge_same_config(entries: list[ImageEntry]) -> list[ImageEntry]:
    """An index lists one descriptor per tag; load each image once with all its tags."""
    by_config: dict[str, ImageEntry] = {}
    for e in entries:
        key = dg.of_bytes(e.config)
        if key in by_config:
            by_config[key].tags += [t for t in e.tags if t not in by_config[key].tags]
        else:
            by_config[key] = e
    return list(by_config.values())
