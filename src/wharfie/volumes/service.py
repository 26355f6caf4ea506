"""Named volumes (the `local` driver) and the mounts a container asks for.

    volumes/<name>/_data        the volume's content (what containers see)
    volumes/<name>/volume.json  Name, Labels, Options, CreatedAt, Anonymous (written atomically)

`-v name:/dst` and image VOLUMEs create volumes on demand; an empty volume is filled with the
image's content at that path on first use (Docker's copy-up), unless `nocopy` is given.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from wharfie.errors import Conflict, InvalidArgument, NotFound
from wharfie.events import EventBus
from wharfie.images import filters as flt
from wharfie.runtime import spec as oci
from wharfie.snapshots.store import remove_tree, tree_size

NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
Volume = dict[str, Any]


class VolumeService:
    def __init__(self, data_root: Path, events: EventBus) -> None:
        self.root = data_root / "volumes"
        self.root.mkdir(parents=True, exist_ok=True, mode=0o701)
        self.events = events
        self.lock = threading.RLock()
        self.container_users: Callable[[str], list[str]] = lambda name: []

    # -- CRUD --------------------------------------------------------------------------------
    def _meta(self, name: str) -> Path:
        return self.root / name / "volume.json"

    def data_dir(self, name: str) -> str:
        return str(self.root / name / "_data")

    def _doc(self, meta: dict[str, Any]) -> Volume:
        name = meta["Name"]
        return {"CreatedAt": meta["CreatedAt"], "Driver": "local", "Labels": meta.get("Labels") or {},
                "Mountpoint": self.data_dir(name), "Name": name, "Options": meta.get("Options") or None,
                "Scope": "local"}

    def create(self, name: str = "", driver: str = "local", options: dict[str, str] | None = None,
               labels: dict[str, str] | None = None, anonymous: bool = False) -> Volume:
        if driver not in ("", "local"):
            raise NotFound(f"plugin \"{driver}\" not found")
        if not name:
            name, anonymous = secrets.token_hex(32), True
        if not NAME_RE.match(name):
            raise InvalidArgument(f'create {name}: "{name}" includes invalid characters for a local volume '
                                  'name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to '
                                  "pass a host directory, use absolute path")
        with self.lock:
            if self._meta(name).exists():
                return self.inspect(name)
            _check_options(options or {})
            os.makedirs(self.data_dir(name), mode=0o755, exist_ok=True)
            meta: dict[str, Any] = {"Name": name, "Labels": labels or {}, "Options": options or {}, "Anonymous": anonymous,
                    "CreatedAt": datetime.now(UTC).astimezone().isoformat(timespec="seconds")}
            if anonymous:
                meta["Labels"] = {"com.docker.volume.anonymous": "", **meta["Labels"]}
            tmp = self._meta(name).with_suffix(".tmp")
            tmp.write_text(json.dumps(meta))
            os.replace(tmp, self._meta(name))
        self.events.publish("volume", "create", name, {"driver": "local"})
        return self._doc(meta)

    def _read(self, name: str) -> dict[str, Any]:
        if not NAME_RE.match(name or ""):
            raise NotFound(f"get {name}: no such volume")
        try:
            return json.loads(self._meta(name).read_text())
        except (FileNotFoundError, ValueError):
            raise NotFound(f"get {name}: no such volume") from None

    def inspect(self, name: str) -> Volume:
        return self._doc(self._read(name))

    def list_volumes(self, raw_filters: str | None = None) -> list[Volume]:
        filters = flt.parse_filters(raw_filters)
        flt.validate(filters, {"dangling", "driver", "label", "name"})
        out = []
        for p in sorted(self.root.iterdir()):
            if not (p / "volume.json").exists():
                continue
            meta = self._read(p.name)
            if not self._matches(meta, filters):
                continue
            out.append(self._doc(meta))
        return out

    def _matches(self, meta: dict[str, Any], filters: dict[str, list[str]]) -> bool:
        if "name" in filters and not any(v in meta["Name"] for v in filters["name"]):
            return False
        if "driver" in filters and "local" not in filters["driver"]:
            return False
        if "label" in filters and not all(flt.label_match(meta.get("Labels") or {}, s) for s in filters["label"]):
            return False
        if "dangling" in filters:
            want = flt.get_bool(filters, "dangling")
            if bool(self.container_users(meta["Name"])) == want:
                return False
        return True

    def remove(self, name: str, force: bool = False) -> None:
        with self.lock:
            try:
                self._read(name)
            except NotFound:
                if force:
                    return
                raise
            users = self.container_users(name)
            if users:
                raise Conflict(f"remove {name}: volume is in use - [{', '.join(users)}]")
            self._unmount_data(name)
            remove_tree(self.root / name)
        self.events.publish("volume", "destroy", name, {"driver": "local"})

    def prune(self, raw_filters: str | None) -> dict[str, Any]:
        filters = flt.parse_filters(raw_filters)
        flt.validate(filters, {"label", "label!", "all"})
        prune_all = flt.get_bool(filters, "all") if "all" in filters else False
        deleted, reclaimed = [], 0
        for p in sorted(self.root.iterdir()):
            if not (p / "volume.json").exists():
                continue
            meta = self._read(p.name)
            if not (prune_all or meta.get("Anonymous")) or self.container_users(meta["Name"]):
                continue
            labels = meta.get("Labels") or {}
            if not all(flt.label_match(labels, s) for s in filters.get("label", [])):
                continue
            if any(flt.label_match(labels, s) for s in filters.get("label!", [])):
                continue
            reclaimed += tree_size(self.data_dir(meta["Name"]))
            self.remove(meta["Name"])
            deleted.append(meta["Name"])
        return {"VolumesDeleted": deleted or None, "SpaceReclaimed": reclaimed}

    def _unmount_data(self, name: str) -> None:
        from wharfie.linux import mount

        if mount.is_mountpoint(self.data_dir(name)):
            mount.umount(self.data_dir(name), mount.MNT_DETACH)

    # -- container mounts --------------------------------------------------------------------
    def plan_mounts(self, doc: dict[str, Any]) -> list[dict[str, Any]]:
        """The container's `Mounts` (inspect shape) from -v, --mount and image VOLUMEs."""
        hc, cfg = doc["HostConfig"], doc["Config"]
        mounts: dict[str, dict[str, Any]] = {}
        for spec in hc.get("Binds") or []:
            m = self._parse_bind(spec)
            mounts[m["Destination"]] = m
        for m in hc.get("Mounts") or []:
            pm = self._parse_mount(m)
            if pm["Destination"] in mounts:
                raise InvalidArgument(f"Duplicate mount point: {pm['Destination']}")
            if pm is not None:
                mounts[pm["Destination"]] = pm
        for dest in (cfg.get("Volumes") or {}):
            if dest not in mounts and dest not in (hc.get("Tmpfs") or {}):
                vol = self.create(anonymous=True)
                mounts[dest] = _volume_mount(vol["Name"], self.data_dir(vol["Name"]), dest, True, "")
        return list(mounts.values())

    def _parse_bind(self, spec: str) -> dict[str, Any]:
        parts = spec.split(":")
        if len(parts) < 2 or len(parts) > 3 or not parts[0] or not parts[1]:
            raise InvalidArgument(f"invalid volume specification: '{spec}'")
        src, dest = parts[0], parts[1]
        opts = parts[2].split(",") if len(parts) == 3 and parts[2] else []
        for o in opts:
            if o not in ("ro", "rw", "z", "Z", "nocopy", "private", "rprivate", "shared", "rshared",
                         "slave", "rslave", "consistent", "cached", "delegated"):
                raise InvalidArgument(f"invalid mode: {o}")
        if not dest.startswith("/"):
            raise InvalidArgument(f"invalid volume specification: '{spec}': invalid mount config for type "
                                  f"\"volume\": invalid mount path: '{dest}' mount path must be absolute")
        rw = "ro" not in opts
        mode = ",".join(o for o in opts if o not in ("nocopy",))
        if src.startswith("/"):
            os.makedirs(src, exist_ok=True)  # -v creates a missing host dir, like Docker
            prop = next((o for o in opts if "private" in o or "shared" in o or "slave" in o), "rprivate")
            return {"Type": "bind", "Source": os.path.normpath(src), "Destination": dest, "Mode": mode,
                    "RW": rw, "Propagation": prop}
        vol = self.create(src)
        return _volume_mount(vol["Name"], self.data_dir(vol["Name"]), dest, rw, mode, nocopy="nocopy" in opts)

    def _parse_mount(self, m: dict[str, Any]) -> dict[str, Any]:
        kind, src, dest = m.get("Type") or "volume", m.get("Source") or "", m.get("Target") or ""
        if not dest.startswith("/"):
            raise InvalidArgument(f"invalid mount config for type \"{kind}\": invalid mount path: '{dest}' "
                                  "mount path must be absolute")
        rw = not m.get("ReadOnly")
        if kind == "bind":
            if not os.path.exists(src):
                raise InvalidArgument(f"invalid mount config for type \"bind\": bind source path does not exist: {src}")
            prop = (m.get("BindOptions") or {}).get("Propagation") or "rprivate"
            return {"Type": "bind", "Source": src, "Destination": dest, "Mode": "", "RW": rw, "Propagation": prop}
        if kind == "volume":
            opts = m.get("VolumeOptions") or {}
            subpath = opts.get("Subpath") or ""
            if subpath:  # API ≥ 1.45: mount only this directory of the volume
                if not src:
                    raise InvalidArgument("invalid mount config for type \"volume\": must not set Subpath when "
                                          "using anonymous volumes")
                if not isinstance(subpath, str) or os.path.isabs(subpath) or ".." in subpath.split("/"):
                    raise InvalidArgument("invalid mount config for type \"volume\": subpath must be a relative "
                                          "path within the volume")
            vol = self.create(src, labels=opts.get("Labels"), anonymous=not src)
            pm = _volume_mount(vol["Name"], self.data_dir(vol["Name"]), dest, rw, "",
                               nocopy=bool(opts.get("NoCopy")))
            if subpath:
                pm["_subpath"] = os.path.normpath(subpath)
            return pm
        if kind == "tmpfs":
            topts = m.get("TmpfsOptions") or {}
            options = []
            if topts.get("SizeBytes"):
                options.append(f"size={topts['SizeBytes']}")
            if topts.get("Mode"):
                options.append(f"mode={topts['Mode']:o}")
            return {"Type": "tmpfs", "Source": "", "Destination": dest, "Mode": ",".join(options), "RW": rw,
                    "Propagation": ""}
        raise InvalidArgument(f"invalid mount config: mount type unknown: {kind!r}")

    def runtime_mounts(self, doc: dict[str, Any], staging: str = "") -> list[oci.Mount]:
        """OCI mounts for the spec; fills empty volumes from the image (copy-up) first. A
        volume subpath is bind-mounted on `staging/<n>` first (the caller unmounts it)."""
        rootfs = doc["GraphDriver"]["Data"]["MergedDir"]
        out = []
        for i, m in enumerate(doc.get("Mounts") or []):
            ro = [] if m["RW"] else ["ro"]
            if m["Type"] == "tmpfs":
                out.append(oci.Mount(m["Destination"], "tmpfs", "tmpfs",
                                     ["nosuid", "nodev", *ro, *[o for o in m["Mode"].split(",") if o]]))
                continue
            source = m["Source"]
            if m["Type"] == "volume":
                self._mount_data_if_needed(m["Name"])
                if m.get("_subpath"):
                    source = _stage_subpath(m["Source"], m["_subpath"], os.path.join(staging, str(i)))
                elif not m.get("_nocopy"):
                    self._copy_up(rootfs, m["Destination"], m["Source"])
            prop = m.get("Propagation") or "rprivate"
            out.append(oci.Mount(m["Destination"], "bind", source, ["rbind", *ro, prop]))
        return out

    def _mount_data_if_needed(self, name: str) -> None:
        opts = self._read(name).get("Options") or {}
        if not opts.get("type"):
            return
        from wharfie.linux import mount

        data = self.data_dir(name)
        if not mount.is_mountpoint(data):
            mount.mount(opts.get("device") or opts["type"], data, opts["type"], 0, opts.get("o", ""))

    def _copy_up(self, rootfs: str, dest: str, data_dir: str) -> None:
        """Docker fills an empty volume with what the image has at the mount point."""
        marker = os.path.join(os.path.dirname(data_dir), ".copied")
        if os.path.exists(marker) or os.listdir(data_dir):
            return
        from wharfie.linux.openat2 import RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS, openat2

        root = os.open(rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            src = openat2(root, dest.strip("/") or ".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, 0,
                          RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)
        except OSError:
            src = -1
        finally:
            os.close(root)
        if src >= 0:
            try:
                subprocess.run(["cp", "-a", f"/proc/self/fd/{src}/.", data_dir + "/"], pass_fds=(src,),
                               check=False, capture_output=True)
                st = os.fstat(src)
                os.chown(data_dir, st.st_uid, st.st_gid)
                os.chmod(data_dir, st.st_mode & 0o7777)
            finally:
                os.close(src)
        Path(marker).touch()

    def remove_anonymous(self, doc: dict[str, Any]) -> None:
        for m in doc.get("Mounts") or []:
            if m.get("Type") != "volume":
                continue
            try:
                meta = self._read(m["Name"])
            except NotFound:
                continue
            if meta.get("Anonymous") and not [c for c in self.container_users(m["Name"]) if c != doc["Id"]]:
                self._unmount_data(m["Name"])
                remove_tree(self.root / m["Name"])
                self.events.publish("volume", "destroy", m["Name"], {"driver": "local"})


def _volume_mount(name: str, source: str, dest: str, rw: bool, mode: str, nocopy: bool = False) -> dict[str, Any]:
    m = {"Type": "volume", "Name": name, "Source": source, "Destination": dest, "Driver": "local",
         "Mode": mode or "z", "RW": rw, "Propagation": ""}
    if nocopy:
        m["_nocopy"] = True
    return m


def _stage_subpath(data_dir: str, subpath: str, target: str) -> str:
    """Bind the volume's `subpath` on `target` and return it. The subpath resolves inside the
    volume (symlinks scoped to it) and the bind takes the very directory that resolved, so a
    container that swaps a path component for a symlink meanwhile can't redirect the mount."""
    import stat

    from wharfie.linux import mount
    from wharfie.linux.openat2 import RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS, openat2

    if not target:
        raise InvalidArgument("volume subpath: no staging directory")
    root = os.open(data_dir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fd = openat2(root, subpath, os.O_PATH | os.O_CLOEXEC, 0, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)
    except OSError as e:
        raise InvalidArgument(f"cannot access path {os.path.join(data_dir, subpath)}: {e.strerror}") from None
    finally:
        os.close(root)
    try:
        os.makedirs(os.path.dirname(target), mode=0o700, exist_ok=True)
        if mount.is_mountpoint(target):
            mount.umount(target, mount.MNT_DETACH)
        if not os.path.lexists(target):
            if stat.S_ISDIR(os.fstat(fd).st_mode):
                os.mkdir(target, 0o700)
            else:
                os.close(os.open(target, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o600))
        mount.mount(f"/proc/self/fd/{fd}", target, None, mount.MS_BIND)
    finally:
        os.close(fd)
    return target


def _check_options(options: dict[str, str]) -> None:
    allowed = {"type", "device", "o", "size"}
    for k in options:
        if k not in allowed:
            raise InvalidArgument(f"invalid option key: {k!r}")
