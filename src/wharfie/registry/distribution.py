"""`GET /distribution/{name}/json`: what a reference points at in its registry, and for which
platforms (an index lists them; a single manifest's config names its own)."""

from __future__ import annotations

import json
from typing import Any

from wharfie.oci import digest as dg
from wharfie.oci.reference import Reference
from wharfie.registry import manifest as mf
from wharfie.registry.blobreader import fetch_small
from wharfie.registry.pull import fetch_manifest
from wharfie.registry.session import Session


def inspect(session: Session, ref: Reference) -> dict[str, Any]:
    data, ctype = fetch_manifest(session, ref.path, ref.digest or ref.tag or "latest")
    doc = mf.parse(data, ctype)
    desc = {"mediaType": doc.media_type, "digest": dg.of_bytes(data), "size": len(data)}
    if isinstance(doc, mf.ImageIndex):
        return {"Descriptor": desc, "Platforms": mf.platforms(doc)}
    config = json.loads(fetch_small(session, ref.path, doc.config, mf.MAX_CONFIG))
    platform = {"architecture": config.get("architecture", ""), "os": config.get("os", "")}
    if config.get("variant"):
        platform["variant"] = config["variant"]
    return {"Descriptor": desc, "Platforms": [platform]}
