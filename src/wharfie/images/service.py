"""The image service: names → images, and everything done to stored images.

An image is its config blob (the image ID is the config's digest), the chain of layers its
`rootfs.diff_ids` name, and the refs (tags and repo digests) pointing at it. Archive formats
live in `archive_load`/`archive_save`/`tarball_import`; this module owns lookup, listing,
inspect, history, tag, remove, prune and garbage collection.
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from wharfie.content.store import ContentStore
from wharfie.errors import Conflict, ImageNotFound, InvalidArgument, NotFound
from wharfie.events import EventBus
from wharfie.images import filters as flt
from wharfie.images.layers import LayerStore
from wharfie.metadata.db import ImageRow, MetadataDB
from wharfie.oci import digest as dg
from wharfie.oci import mediatypes as mt
from wharfie.oci import reference
from wharfie.snapshots.store import SnapshotStore

log = logging.getLogger("wharfie.images")

IMAGE_LIST_FILTERS = {"before", "dangling", "label", "reference", "since", "until"}
PRUNE_FILTERS = {"dangling", "label", "label!", "until"}


@dataclass
class Image:
    id: str
    row: ImageRow
    config: dict[str, Any]
    refs: list[tuple[str, bool]] = field(default_factory=list)

    @property
    def tags(self) -> list[str]:
        return [r for r, is_digest in self.refs if not is_digest]

    @property
    def digests(self) -> list[str]:
        return [r for r, is_digest in self.refs if is_digest]

    @property
    def labels(self) -> dict[str, str]:
        return (self.config.get("config") or {}).get("Labels") or {}


def familiar(ref: str) -> str:
    return reference.parse(ref).familiar()


def rfc3339(ts: float) -> str:
    """RFC3339Nano in UTC the way Go prints it (trailing zeros trimmed)."""
    dt = datetime.fromtimestamp(int(ts), tz=None).utcfromtimestamp(int(ts))
    frac = f"{ts - int(ts):.9f}"[2:].rstrip("0")
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + (f".{frac}" if frac else "") + "Z"


def parse_created(value: str | None) -> float:
    """Config `created` (RFC3339 with up to nanoseconds) → unix seconds; 0 when absent/bad."""
    if not value:
        return 0.0
    s = value.strip().replace("Z", "+00:00")
    frac = 0.0
    if "." in s:
        head, rest = s.split(".", 1)
        digits = "".join(itertools.takewhile(str.isdigit, rest))
        tz = rest[len(digits):]
        frac = float("0." + digits) if digits else 0.0
        s = head + tz
    try:
        return datetime.fromisoformat(s).timestamp() + frac
    except ValueError:
        return 0.0


class ImageService:
    def __init__(self, root: Path, events: EventBus) -> None:
        self.root = root
        self.events = events
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.db = MetadataDB(root / "metadata.db")
        self.content = ContentStore(root / "content")
        self.snapshots = SnapshotStore(root / "snapshots")
        self.gc_lock = threading.RLock()
        self.layers = LayerStore(self.db, self.content, self.snapshots, self.gc_lock)
        self._configs: dict[str, dict[str, Any]] = {}
        self.tmp = root / "tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)
        # Names the containers that use an image; the container service replaces this hook.
        # (container id, running) for each container using an image; the container service
        # replaces this hook.
        self.container_users: Callable[[str], list[tuple[str, bool]]] = lambda image_id: []

    # -- start-up --------------------------------------------------------------------------
    def recover(self) -> dict[str, int]:
        """Reconcile disk with the database after a crash: drop half-written work."""
        report = {
            "ingest": self.content.clean_ingest(),
            "staging": self.snapshots.clean_tmp(),
            "tmp": _clean_dir(self.tmp),
        }
        report.update(self.gc())
        return report

    def gc(self) -> dict[str, int]:
        """Delete layers no image uses, then snapshots and blobs nothing records."""
        with self.gc_lock:
            freed = {"layers": 0, "snapshots": 0, "blobs": 0, "bytes": 0}
            leased = self.layers.leased()
            for row in self.db.unreferenced_layers():
                if row.chain_id not in leased:
                    self.db.delete_layer(row.chain_id)
                    freed["layers"] += 1
            known_layers = self.db.all_layers()
            known_chains = {r.chain_id for r in known_layers}
            for chain in self.snapshots.chain_ids():
                if chain not in known_chains:
                    self.snapshots.remove(chain)
                    freed["snapshots"] += 1
            live = {r.blob for r in known_layers} | {r.id for r in self.db.images()}
            for d in list(self.content.digests()):
                if d not in live:
                    freed["bytes"] += self.content.delete(d)
                    freed["blobs"] += 1
            return freed

    # -- lookup ----------------------------------------------------------------------------
    def resolve(self, name: str) -> str:
        """Image ID for a name: full/short ID, `name[:tag]`, or `name@digest` (Docker's order)."""
        if not name:
            raise ImageNotFound(name)
        candidate = name[7:] if name.startswith("sha256:") else name
        if dg.is_full_hex_id(candidate) and self.db.image("sha256:" + candidate):
            return "sha256:" + candidate
        try:
            ref = reference.parse(name)
        except InvalidArgument:
            ref = None
        if ref is not None:
            image_id = self.db.resolve_ref(str(ref.with_default_tag()))
            if image_id:
                return image_id
            if ref.digest:  # name@digest also matches a pulled image by its repo digest name
                image_id = self.db.resolve_ref(f"{ref.name}@{ref.digest}")
                if image_id:
                    return image_id
        if all(c in "0123456789abcdef" for c in candidate) and len(candidate) >= 1:
            matches = self.db.image_ids_with_prefix(candidate)
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                raise InvalidArgument(f"multiple IDs found with provided prefix: {candidate}")
        raise ImageNotFound(name)

    def get(self, name: str) -> Image:
        return self.image(self.resolve(name))

    def image(self, image_id: str, refs: list[tuple[str, bool]] | None = None) -> Image:
        row = self.db.image(image_id)
        if row is None:
            raise ImageNotFound(image_id)
        config = self._configs.get(image_id)
        if config is None:  # configs are immutable (content-addressed): verify once, keep
            config = json.loads(self.content.read_bytes(image_id))
            self._configs[image_id] = config
        return Image(image_id, row, config, refs if refs is not None else self.db.refs_of(image_id))

    def all_images(self) -> list[Image]:
        refs = self.db.all_refs()
        return [self.image(r.id, refs.get(r.id, [])) for r in self.db.images()]

    # -- create ----------------------------------------------------------------------------
    def add(self, config_bytes: bytes, chain: list[str], tags: list[str],
            event: str | None, repo_digests: list[str] | None = None, parent: str = "") -> str:
        """Record an image whose layers are already stored (and leased); point `tags` at it.
        `parent`: the local image it was made from (build step, commit), what inspect shows."""
        config = json.loads(config_bytes)
        refs = [(str(reference.parse_docker_ref(t)), False) for t in tags]
        refs += [(d, True) for d in repo_digests or []]
        with self.gc_lock:
            image_id = self.content.put_bytes(config_bytes)
            size = sum(self._layer_size(c) for c in chain)
            now = time.time()
            row = ImageRow(image_id, parse_created(config.get("created")), now, None, size, parent)
            existed = self.db.image(image_id) is not None
            self.db.add_image(row, chain, refs, now)
        if event and not existed:
            self.events.publish("image", event, image_id, {"name": image_id})
        for t in tags:
            self.events.publish("image", "tag", image_id, {"name": familiar(str(reference.parse_docker_ref(t)))})
        return image_id

    def _layer_size(self, chain_id: str) -> int:
        row = self.db.layer(chain_id)
        if row is None:
            raise NotFound(f"layer {chain_id} is not stored")
        return row.size

    def commit(self, parent_id: str | None, upper: str, container_config: dict[str, Any],
               history: dict[str, Any], tags: list[str], *, author: str = "", empty_layer: bool = False,
               mtime: int | None = None) -> str:
        """A new image: the parent's layers plus the diff in `upper` (an overlay upper dir or a
        plain tree), with `container_config` as its config. `docker commit` and build steps."""
        import tempfile

        from wharfie.archive.diff import write_diff

        parent = self.image(parent_id) if parent_id else None
        base: dict[str, Any] = dict(parent.config) if parent else {"architecture": mt.host_arch(), "os": "linux"}
        chain = self.db.image_chain(parent_id) if parent_id else []
        diff_ids = list((base.get("rootfs") or {}).get("diff_ids") or [])
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        hist = list(base.get("history") or []) + [{"created": now, **history,
                                                   **({"empty_layer": True} if empty_layer else {})}]
        with self.layers.lease() as lease:
            if not empty_layer:
                with tempfile.TemporaryFile(dir=self.tmp) as fh:
                    write_diff(upper, fh, mtime)
                    fh.seek(0)
                    row = self.layers.ingest(fh, chain[-1] if chain else None, None, lease)
                chain.append(row.chain_id)
                diff_ids.append(row.diff_id)
            for c in chain:
                lease.add(c)
            config = {k: v for k, v in base.items() if k not in ("container", "container_config")}
            config.update(created=now, config=container_config, history=hist,
                          rootfs={"type": "layers", "diff_ids": diff_ids})
            if author:
                config["author"] = author
            data = json.dumps(config, separators=(",", ":")).encode()
            return self.add(data, chain, tags, "commit" if not empty_layer else None, parent=parent_id or "")

    # -- tag -------------------------------------------------------------------------------
    def tag(self, name: str, repo: str, tag: str) -> str:
        image_id = self.resolve(name)
        if not repo:
            raise InvalidArgument("repository name must have at least one component")
        target = f"{repo}:{tag}" if tag else repo
        if reference.is_id_like(repo):
            raise InvalidArgument(f"invalid repository name ({repo}), cannot specify 64-byte hexadecimal strings")
        ref = reference.parse(target)
        if ref.digest:
            raise InvalidArgument("refusing to create a tag with a digest reference")
        ref = ref.with_default_tag()
        self.db.set_refs(image_id, [(str(ref), False)], time.time())
        self.events.publish("image", "tag", image_id, {"name": ref.familiar()})
        return image_id

    # -- list ------------------------------------------------------------------------------
    def list_images(self, raw_filters: str | None, want_all: bool = False) -> list[Image]:
        filters = flt.parse_filters(raw_filters)
        flt.validate(filters, IMAGE_LIST_FILTERS)
        images = self.all_images()
        if not want_all:  # like dockerd: untagged images with children are build intermediates
            images = [i for i in images if i.refs or i.id not in self._parents()]
        if "before" in filters or "since" in filters:
            images = self._time_window(images, filters)
        if "until" in filters:
            limit = min(flt.parse_until(v, time.time()) for v in filters["until"])
            images = [i for i in images if i.row.created < limit]
        if "dangling" in filters:
            want = flt.get_bool(filters, "dangling")
            images = [i for i in images if (not i.tags) == want]
        if "label" in filters:
            images = [i for i in images if all(flt.label_match(i.labels, s) for s in filters["label"])]
        if "reference" in filters:
            # Like dockerd, only the matching refs are shown, and images with none drop out.
            images = [Image(i.id, i.row, i.config, self._matching_refs(i, filters["reference"])) for i in images]
            images = [i for i in images if i.refs]
        images.sort(key=lambda i: (i.row.created, i.row.added), reverse=True)
        return images

    def _parents(self) -> set[str]:
        """Images some other image was made from (build steps, commits)."""
        return {row.parent for row in self.db.images() if row.parent}

    def _time_window(self, images: list[Image], filters: dict[str, list[str]]) -> list[Image]:
        for key in ("before", "since"):
            for name in filters.get(key, []):
                pivot = self.get(name).row.created
                if key == "before":
                    images = [i for i in images if i.row.created < pivot]
                else:
                    images = [i for i in images if i.row.created > pivot]
        return images

    @staticmethod
    def _matching_refs(image: Image, patterns: list[str]) -> list[tuple[str, bool]]:
        return [(r, d) for r, d in image.refs if any(flt.familiar_match(p, reference.parse(r)) for p in patterns)]

    def summary(self, image: Image, api_version: tuple[int, ...]) -> dict[str, Any]:
        s: dict[str, Any] = {
            "Id": image.id,
            "ParentId": image.row.parent,
            "RepoTags": [familiar(t) for t in image.tags],
            "RepoDigests": [familiar(d) for d in image.digests],
            "Created": int(image.row.created),
            "Size": image.row.size,
            "SharedSize": -1,
            "Labels": image.labels,
            "Containers": -1,
        }
        if api_version < (1, 44):
            s["VirtualSize"] = image.row.size
        if api_version < (1, 43) and not image.refs:
            s["RepoTags"], s["RepoDigests"] = ["<none>:<none>"], ["<none>@<none>"]
        return s

    # -- inspect / history -----------------------------------------------------------------
    def inspect(self, name: str, api_version: tuple[int, ...]) -> dict[str, Any]:
        image = self.get(name)
        cfg = image.config
        chain = self.db.image_chain(image.id)
        lowers = [str(self.snapshots.fs(c)) for c in reversed(chain)]
        out: dict[str, Any] = {
            "Id": image.id,
            "RepoTags": [familiar(t) for t in image.tags],
            "RepoDigests": [familiar(d) for d in image.digests],
            "Parent": image.row.parent,
            "Comment": _last_comment(cfg),
            "Created": cfg.get("created") or "",
            "DockerVersion": cfg.get("docker_version", ""),
            "Author": cfg.get("author", ""),
            "Config": _container_config(cfg.get("config") or {}),
            "Architecture": cfg.get("architecture", ""),
            "Os": cfg.get("os", ""),
            "Size": image.row.size,
            "GraphDriver": {"Name": "overlay2", "Data": {"LowerDir": ":".join(lowers)} if lowers else None},
            "RootFS": {"Type": "layers", "Layers": list((cfg.get("rootfs") or {}).get("diff_ids") or [])},
            "Metadata": {"LastTagTime": rfc3339(image.row.last_tagged) if image.row.last_tagged else "0001-01-01T00:00:00Z"},
        }
        if cfg.get("variant"):
            out["Variant"] = cfg["variant"]
        if cfg.get("os.version"):
            out["OsVersion"] = cfg["os.version"]
        if api_version < (1, 44):
            out["VirtualSize"] = image.row.size
        if api_version < (1, 45):
            out["Container"] = cfg.get("container", "")
            out["ContainerConfig"] = _container_config(cfg.get("container_config") or {})
        return out

    def history(self, name: str) -> list[dict[str, Any]]:
        image = self.get(name)
        chain = self.db.image_chain(image.id)
        sizes = [self._layer_size(c) for c in chain]
        entries = list(image.config.get("history") or [])
        if not entries:  # configs without history: one anonymous entry per layer
            entries = [{} for _ in chain]
        out = []
        layer_idx = 0
        for h in entries:
            size = 0
            if not h.get("empty_layer") and layer_idx < len(sizes):
                size = sizes[layer_idx]
                layer_idx += 1
            out.append({
                "Id": "<missing>",
                "Created": int(parse_created(h.get("created"))),
                "CreatedBy": h.get("created_by", ""),
                "Tags": None,
                "Size": size,
                "Comment": h.get("comment", ""),
            })
        out.reverse()
        if out:
            out[0]["Id"] = image.id
            out[0]["Tags"] = [familiar(t) for t in image.tags] or None
        return out

    # -- remove / prune --------------------------------------------------------------------
    def remove(self, name: str, force: bool = False) -> list[dict[str, str]]:
        """`docker rmi`: untag when a name is given and other refs remain, else delete.

        Follows dockerd's rules: a container using the image blocks untagging unless forced;
        an ID with tags in several repositories needs force; a running container always blocks
        deletion, a stopped one unless forced.
        """
        image_id = self.resolve(name)
        image = self.image(image_id)
        short = dg.short_id(image_id)
        users = self.container_users(image_id)
        records: list[dict[str, str]] = []
        by_ref = self._named_ref(name, image)
        if by_ref is not None:
            if users and not force and len(image.refs) == 1:  # untagging would leave it dangling
                raise Conflict(f'conflict: unable to remove repository reference "{name}" (must force) '
                               f"- container {users[0][0][:12]} is using its referenced image {short}")
            remaining = self._untag_with_orphan_digests(image, by_ref, records)
            if remaining:
                return records
            if users:  # the last tag went but a container still needs the image: keep it
                return records
        else:
            repos = {reference.parse(r).name for r, _ in image.refs}
            if len(repos) > 1 and not force:
                raise Conflict(f"conflict: unable to delete {short} (must be forced) - image is "
                               "referenced in multiple repositories")
            for cid, running in users:
                if running:
                    raise Conflict(f"conflict: unable to delete {short} (cannot be forced) - image "
                                   f"is being used by running container {cid[:12]}")
                if not force:
                    raise Conflict(f"conflict: unable to delete {short} (must be forced) - image is "
                                   f"being used by stopped container {cid[:12]}")
            for ref, _ in image.refs:
                self._untag(image, ref, records)
        self.db.delete_image(image.id)
        self._configs.pop(image.id, None)
        records.append({"Deleted": image.id})
        self.events.publish("image", "delete", image.id, {"name": image.id})
        self.gc()
        return records

    def _named_ref(self, name: str, image: Image) -> str | None:
        """The stored ref `name` denotes, or None when `name` was (a prefix of) the ID."""
        bare = name[7:] if name.startswith("sha256:") else name
        if image.id[7:].startswith(bare):
            return None
        ref = reference.parse(name)
        return str(ref if ref.digest else ref.with_default_tag())

    def _untag_with_orphan_digests(self, image: Image, ref: str, records: list[dict[str, str]]) -> list[str]:
        """Remove `ref`; when it was a repo's last tag, that repo's digest refs go too."""
        self._untag(image, ref, records)
        remaining = [r for r, _ in image.refs if r != ref]
        parsed = reference.parse(ref)
        if not parsed.digest:
            same_repo = [r for r in remaining if reference.parse(r).name == parsed.name]
            if not any(not reference.parse(r).digest for r in same_repo):
                for r in same_repo:
                    self._untag(image, r, records)
                    remaining.remove(r)
        return remaining

    def _untag(self, image: Image, ref: str, records: list[dict[str, str]]) -> None:
        self.db.delete_ref(ref)
        records.append({"Untagged": familiar(ref)})
        self.events.publish("image", "untag", image.id, {"name": image.id})

    def prune(self, raw_filters: str | None) -> dict[str, Any]:
        filters = flt.parse_filters(raw_filters)
        flt.validate(filters, PRUNE_FILTERS)
        dangling_only = flt.get_bool(filters, "dangling", True)
        now = time.time()
        deleted: list[dict[str, str]] = []
        reclaimed = 0
        parents = self._parents()
        for image in self.all_images():
            if dangling_only and (image.tags or image.id in parents):  # intermediates aren't dangling
                continue
            if self.container_users(image.id):
                continue
            if "until" in filters and not all(image.row.created < flt.parse_until(v, now) for v in filters["until"]):
                continue
            if not all(flt.label_match(image.labels, s) for s in filters.get("label", [])):
                continue
            if any(flt.label_match(image.labels, s) for s in filters.get("label!", [])):
                continue
            before = self._disk_usage()
            deleted += self.remove(image.id, force=True)
            reclaimed += max(0, before - self._disk_usage())
        self.events.publish("image", "prune", "", {"reclaimed": str(reclaimed)})
        return {"ImagesDeleted": deleted or None, "SpaceReclaimed": reclaimed}

    def _disk_usage(self) -> int:
        return sum(r.size for r in self.db.all_layers())


def _last_comment(cfg: dict[str, Any]) -> str:
    hist = cfg.get("history") or []
    return hist[-1].get("comment", "") if hist else ""


CONFIG_KEYS = ["Hostname", "Domainname", "User", "AttachStdin", "AttachStdout", "AttachStderr",
               "ExposedPorts", "Tty", "OpenStdin", "StdinOnce", "Env", "Cmd", "Image", "Volumes",
               "WorkingDir", "Entrypoint", "OnBuild", "Labels"]


def _container_config(c: dict[str, Any]) -> dict[str, Any]:
    """Image config as Docker's ContainerConfig shape (zero values filled in, extras kept)."""
    zero: dict[str, Any] = {"Hostname": "", "Domainname": "", "User": "", "AttachStdin": False,
                            "AttachStdout": False, "AttachStderr": False, "Tty": False,
                            "OpenStdin": False, "StdinOnce": False, "Env": None, "Cmd": None,
                            "Image": "", "Volumes": None, "WorkingDir": "", "Entrypoint": None,
                            "OnBuild": None, "Labels": None}
    out = {k: c.get(k, zero.get(k)) for k in CONFIG_KEYS}
    out.update({k: v for k, v in c.items() if k not in out})
    return out


def _clean_dir(d: Path) -> int:
    from wharfie.snapshots.store import remove_tree

    n = 0
    for p in d.iterdir():
        remove_tree(p)
        n += 1
    return n
