"""`docker save`: write images as the archive Docker 25+ writes.

One archive that is both an OCI image layout (oci-layout, index.json, blobs/sha256/…) and a
docker-save archive (manifest.json, repositories), so current Docker, old Docker (manifest.json
with paths) and Podman all load it. Layers are the uncompressed tars we keep by diff ID, so the
image ID and every digest survive a save → load round trip.
"""

from __future__ import annotations

import io
import json
import tarfile
from dataclasses import dataclass, field
from typing import IO, Any

from wharfie.errors import InvalidArgument
from wharfie.images.service import Image, ImageService, familiar
from wharfie.oci import digest as dg
from wharfie.oci import mediatypes as mt
from wharfie.oci import reference


@dataclass
class SaveItem:
    image: Image
    tags: list[str] = field(default_factory=list)   # normalised refs to name in the archive


def plan(images: ImageService, names: list[str]) -> list[SaveItem]:
    """Resolve names like Docker: a bare repository name means every tag of that repository."""
    if not names:
        raise InvalidArgument("no images specified")
    items: dict[str, SaveItem] = {}
    for name in names:
        for image_id, tag in _expand(images, name):
            item = items.setdefault(image_id, SaveItem(images.image(image_id)))
            if tag and tag not in item.tags:
                item.tags.append(tag)
    return list(items.values())


def _expand(images: ImageService, name: str) -> list[tuple[str, str | None]]:
    image_id = images.resolve(name)
    bare = name[7:] if name.startswith("sha256:") else name
    if image_id[7:].startswith(bare):
        return [(image_id, None)]
    ref = reference.parse(name)
    if ref.tag is None and ref.digest is None:
        repo_tags: list[tuple[str, str | None]] = [(iid, r) for iid, refs in images.db.all_refs().items() for r, is_d in refs
                     if not is_d and reference.parse(r).name == ref.name]
        if repo_tags:
            return repo_tags
    if ref.digest:
        return [(image_id, None)]
    return [(image_id, str(ref.with_default_tag()))]


def write_archive(images: ImageService, items: list[SaveItem], out: IO[bytes]) -> None:
    """Stream the archive to `out` (a write-only file object is enough)."""
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tf:
        w = _Writer(tf)
        w.dir("blobs/")
        w.dir("blobs/sha256/")
        manifest_json: list[dict[str, Any]] = []
        index: list[dict[str, Any]] = []
        repositories: dict[str, dict[str, str]] = {}
        for item in items:
            image = item.image
            chain = images.db.image_chain(image.id)
            layer_descs: list[dict[str, Any]] = []
            for chain_id in chain:
                row = images.db.layer(chain_id)
                assert row is not None
                size = images.content.size(row.blob)
                w.add_blob_file(row.blob, images.content.open(row.blob), size, image.row.created)
                layer_descs.append({"mediaType": mt.OCI_LAYER, "digest": row.blob, "size": size})
            config = images.content.read_bytes(image.id)
            w.add_blob_bytes(image.id, config, image.row.created)
            manifest = json.dumps({
                "schemaVersion": 2,
                "mediaType": mt.OCI_MANIFEST,
                "config": {"mediaType": mt.OCI_CONFIG, "digest": image.id, "size": len(config)},
                "layers": layer_descs,
            }, separators=(",", ":")).encode()
            manifest_digest = dg.of_bytes(manifest)
            w.add_blob_bytes(manifest_digest, manifest, image.row.created)
            desc = {"mediaType": mt.OCI_MANIFEST, "digest": manifest_digest, "size": len(manifest)}
            tags: list[str | None] = list(item.tags) or [None]
            for tag in tags:
                entry: dict[str, Any] = dict(desc)
                if tag:
                    ref = reference.parse(tag)
                    entry["annotations"] = {mt.ANNOTATION_CONTAINERD_NAME: tag,
                                            mt.ANNOTATION_REF_NAME: ref.tag or "latest"}
                    repositories.setdefault(ref.familiar_name, {})[ref.tag or "latest"] = dg.hex_of(layer_descs[-1]["digest"]) if layer_descs else ""
                index.append(entry)
            manifest_json.append({
                "Config": f"blobs/sha256/{dg.hex_of(image.id)}",
                "RepoTags": [familiar(t) for t in item.tags] or None,
                "Layers": [f"blobs/sha256/{dg.hex_of(d['digest'])}" for d in layer_descs],
            })
        w.add_file("index.json", _json({"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": index}))
        w.add_file("manifest.json", _json(manifest_json))
        w.add_file("oci-layout", _json({"imageLayoutVersion": "1.0.0"}))
        if repositories:
            w.add_file("repositories", _json(repositories))


def _json(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode() + b"\n"


class _Writer:
    def __init__(self, tf: tarfile.TarFile) -> None:
        self.tf = tf
        self.written: set[str] = set()

    def dir(self, name: str) -> None:
        ti = tarfile.TarInfo(name.rstrip("/"))
        ti.type = tarfile.DIRTYPE
        ti.mode = 0o755
        self.tf.addfile(ti)

    def add_file(self, name: str, data: bytes, mtime: float = 0) -> None:
        ti = tarfile.TarInfo(name)
        ti.size, ti.mode, ti.mtime = len(data), 0o644, int(mtime)
        self.tf.addfile(ti, io.BytesIO(data))

    def add_blob_bytes(self, digest: str, data: bytes, mtime: float) -> None:
        if digest not in self.written:
            self.written.add(digest)
            self.add_file(f"blobs/sha256/{dg.hex_of(digest)}", data, mtime)

    def add_blob_file(self, digest: str, fh: IO[bytes], size: int, mtime: float) -> None:
        with fh:
            if digest in self.written:
                return
            self.written.add(digest)
            ti = tarfile.TarInfo(f"blobs/sha256/{dg.hex_of(digest)}")
            ti.size, ti.mode, ti.mtime = size, 0o644, int(mtime)
            self.tf.addfile(ti, fh)
