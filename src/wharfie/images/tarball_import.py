"""`docker import`: a root filesystem tarball becomes a one-layer image."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from wharfie.images.changes import apply_changes
from wharfie.images.service import ImageService
from wharfie.oci import mediatypes as mt
from wharfie.oci import reference


def import_tarball(images: ImageService, path: str, repo: str, tag: str, changes: list[str],
                   message: str, platform: str = "") -> str:
    """Ingest the (possibly compressed) tar at `path`; returns the new image ID."""
    target = None
    if repo:
        target = str(reference.parse(f"{repo}:{tag}" if tag else repo).with_default_tag())
    os_, arch, variant = mt.parse_platform(platform)
    container_config = apply_changes({}, changes)
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    with images.layers.lease() as lease, open(path, "rb") as fh:
        layer = images.layers.ingest(fh, None, None, lease)
        config = {
            "architecture": arch,
            "os": os_,
            **({"variant": variant} if variant else {}),
            "config": container_config,
            "created": now,
            "history": [{"created": now, "created_by": "", "comment": message or "Imported from -"}],
            "rootfs": {"type": "layers", "diff_ids": [layer.diff_id]},
        }
        config_bytes = json.dumps(config, separators=(",", ":")).encode()
        return images.add(config_bytes, [layer.chain_id], [target] if target else [], "import")


