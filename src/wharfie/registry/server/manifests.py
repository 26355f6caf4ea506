"""What a pushed manifest is and what it points at (pure: bytes in, facts out).

A registry stores manifests byte for byte; it only needs their media type, the blobs and child
manifests they reference (all must already be in the repository), the `subject` they refer to
(the referrers API) and the descriptor the referrers API lists for them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from wharfie.oci import mediatypes as mt
from wharfie.registry.server.errors import RegistryError
from wharfie.registry.server.names import DIGEST_RE

MAX_MANIFEST = 4 << 20  # the spec asks registries to take at least 4 MiB
SCHEMA1 = {
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
}
KNOWN = mt.INDEX_TYPES | mt.MANIFEST_TYPES


@dataclass
class Manifest:
    media_type: str
    blobs: list[str] = field(default_factory=list)  # config + layers: must be linked blobs
    manifests: list[str] = field(default_factory=list)  # an index's children: linked manifests
    subject: str | None = None
    artifact_type: str | None = None
    annotations: dict[str, str] = field(default_factory=dict)

    @property
    def is_index(self) -> bool:
        return self.media_type in mt.INDEX_TYPES


def _invalid(msg: str) -> RegistryError:
    return RegistryError("MANIFEST_INVALID", msg)


def _descriptor_digest(d: Any, where: str) -> str:
    if not isinstance(d, dict) or not isinstance(d.get("digest"), str):
        raise _invalid(f"{where}: a descriptor without a digest")
    if not DIGEST_RE.match(d["digest"]):
        raise _invalid(f"{where}: invalid digest {d['digest']!r}")
    if not isinstance(d.get("size", 0), int) or d.get("size", 0) < 0:
        raise _invalid(f"{where}: invalid size for {d['digest']}")
    return str(d["digest"])


def _is_foreign(d: dict[str, Any]) -> bool:
    """Foreign / non-distributable layers live elsewhere (their `urls`); don't require them."""
    return bool(d.get("urls")) or "foreign" in str(d.get("mediaType", ""))


def media_type_of(doc: dict[str, Any], content_type: str) -> str:
    """The manifest's type: Content-Type (without parameters), else its mediaType field, else
    guessed from its shape (an OCI manifest may omit mediaType)."""
    ctype = content_type.split(";", 1)[0].strip().lower()
    declared = doc.get("mediaType")
    if declared is not None and not isinstance(declared, str):
        raise _invalid("mediaType must be a string")
    if ctype in SCHEMA1 or declared in SCHEMA1:
        raise RegistryError("MANIFEST_INVALID", "schema 1 manifests are not supported")
    if ctype in KNOWN:
        if declared and declared != ctype:
            raise _invalid(f"mediaType {declared!r} does not match Content-Type {ctype!r}")
        return ctype
    if declared in KNOWN:
        return str(declared)
    if declared:
        raise _invalid(f"unsupported manifest media type {declared!r}")
    return mt.OCI_INDEX if "manifests" in doc else mt.OCI_MANIFEST


def parse(data: bytes, content_type: str) -> Manifest:
    if len(data) > MAX_MANIFEST:
        raise RegistryError("MANIFEST_INVALID", f"manifest exceeds {MAX_MANIFEST} bytes", status=413)
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise _invalid(f"manifest is not JSON: {e}") from None
    if not isinstance(doc, dict):
        raise _invalid("manifest is not a JSON object")
    if doc.get("schemaVersion") != 2:
        raise _invalid("schemaVersion must be 2")
    m = Manifest(media_type_of(doc, content_type))
    if m.is_index:
        children = doc.get("manifests")
        if not isinstance(children, list):
            raise _invalid("an index needs a manifests list")
        m.manifests = [_descriptor_digest(d, "manifests") for d in children]
    else:
        config, layers = doc.get("config"), doc.get("layers", [])
        if not isinstance(layers, list):
            raise _invalid("layers must be a list")
        m.blobs = [_descriptor_digest(config, "config")]
        m.blobs += [_descriptor_digest(d, "layers") for d in layers if not _is_foreign(d)]
        m.artifact_type = doc.get("artifactType") or (config or {}).get("mediaType")
    if m.is_index and isinstance(doc.get("artifactType"), str):
        m.artifact_type = doc["artifactType"]
    if doc.get("subject") is not None:
        m.subject = _descriptor_digest(doc["subject"], "subject")
    annotations = doc.get("annotations") or {}
    if not isinstance(annotations, dict):
        raise _invalid("annotations must be an object")
    m.annotations = annotations
    return m


def referrer_descriptor(m: Manifest, digest: str, size: int) -> dict[str, Any]:
    """The entry the referrers API lists for a manifest with a `subject`."""
    d: dict[str, Any] = {"mediaType": m.media_type, "digest": digest, "size": size}
    if m.artifact_type:
        d["artifactType"] = m.artifact_type
    if m.annotations:
        d["annotations"] = m.annotations
    return d
