"""Disk usage across the stores (`GET /system/df`, `docker system df`).

Sizes as Docker counts them: an image's Size is all its layers, SharedSize the part of it other
images also use, LayersSize every layer once; containers carry SizeRw/SizeRootFs; volumes their
content size and how many containers use them. The legacy builder's cache is made of images,
so BuildCache is empty. Blocking (walks directories): call from a worker thread.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from wharfie.containers import queries
from wharfie.containers.service import ContainerService
from wharfie.errors import InvalidArgument
from wharfie.images.service import ImageService
from wharfie.snapshots.store import tree_size
from wharfie.volumes.service import VolumeService

TYPES = ("container", "image", "volume", "build-cache")


def disk_usage(images: ImageService, containers: ContainerService, volumes: VolumeService,
               api_version: tuple[int, ...], types: list[str] | None = None) -> dict[str, Any]:
    wanted = set(types or TYPES)
    if not wanted <= set(TYPES):
        raise InvalidArgument(f"invalid type: {sorted(wanted - set(TYPES))[0]}")
    out: dict[str, Any] = {}
    if "image" in wanted:
        out.update(_images(images, containers, api_version))
    if "container" in wanted:
        out["Containers"] = queries.list_containers(containers, True, -1, True, None, "", "")
    if "volume" in wanted:
        out["Volumes"] = _volumes(volumes)
    if "build-cache" in wanted:
        out["BuildCache"] = []
    return out


def _images(images: ImageService, containers: ContainerService, api_version: tuple[int, ...]) -> dict[str, Any]:
    layer_size = {row.chain_id: row.size for row in images.db.all_layers()}
    found = images.list_images(None, want_all=True)
    chains = {i.id: images.db.image_chain(i.id) for i in found}
    users = Counter(c for chain in chains.values() for c in set(chain))
    running = Counter(d["Image"] for d in containers.store.all())
    summaries = []
    for image in found:
        s = images.summary(image, api_version)
        s["SharedSize"] = sum(layer_size.get(c, 0) for c in set(chains[image.id]) if users[c] > 1)
        s["Containers"] = running[image.id]
        summaries.append(s)
    return {"LayersSize": sum(layer_size.values()), "Images": summaries}


def _volumes(volumes: VolumeService) -> list[dict[str, Any]]:
    out = []
    for v in volumes.list_volumes():
        size = tree_size(volumes.data_dir(v["Name"]))
        out.append({**v, "UsageData": {"Size": size, "RefCount": len(volumes.container_users(v["Name"]))}})
    return out
