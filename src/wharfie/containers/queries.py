"""Read-side container operations: ps, inspect, top, stats, prune, and docker cp archives."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import stat
import tarfile
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from wharfie.containers import model
from wharfie.containers.service import ContainerService
from wharfie.containers.store import Doc
from wharfie.errors import Conflict, Forbidden, InvalidArgument, NotFound
from wharfie.images import filters as flt
from wharfie.linux.openat2 import RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS, openat2

PS_FILTERS = {"ancestor", "before", "expose", "exited", "health", "id", "isolation", "is-task", "label",
              "name", "network", "publish", "since", "status", "volume"}
STATUSES = {"created", "restarting", "running", "removing", "paused", "exited", "dead"}


def state_name(doc: Doc) -> str:
    st = doc["State"]
    if st.get("Restarting"):
        return "restarting"
    if st.get("Paused"):
        return "paused"
    if st.get("Running"):
        return "running"
    return st.get("Status") or "created"


def summary(svc: ContainerService, doc: Doc, size: bool) -> dict[str, Any]:
    out = {
        "Id": doc["Id"], "Names": [doc["Name"]], "Image": doc["Config"].get("Image", ""),
        "ImageID": doc["Image"], "Command": model.command_text(doc),
        "Created": int(doc["_wharfie"].get("created_unix", model.parse_time(doc["Created"]))),
        "Ports": summary_ports(doc["NetworkSettings"].get("Ports")),
        "Labels": doc["Config"].get("Labels") or {}, "State": state_name(doc),
        "Status": model.status_text(doc), "HostConfig": {"NetworkMode": doc["HostConfig"].get("NetworkMode")},
        "NetworkSettings": {"Networks": doc["NetworkSettings"].get("Networks") or {}},
        "Mounts": [_public_mount(m) for m in doc.get("Mounts") or []],
    }
    if size:
        out["SizeRw"] = svc.rootfs.disk_usage(doc["Id"])
        out["SizeRootFs"] = out["SizeRw"] + svc.images.db.image(doc["Image"]).size if svc.images.db.image(doc["Image"]) else 0  # type: ignore[union-attr]
    return out


def summary_ports(ports: dict[str, Any] | None) -> list[dict[str, Any]]:
    from wharfie.network.portmap import summary_ports as ports_of

    return ports_of(ports)


def _public_mount(m: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in m.items() if not k.startswith("_")}


def inspect(svc: ContainerService, ref: str, size: bool = False) -> dict[str, Any]:
    doc = svc.get(ref)
    out = model.public(doc)
    out["Mounts"] = [_public_mount(m) for m in doc.get("Mounts") or []]
    if size:
        out["SizeRw"] = svc.rootfs.disk_usage(doc["Id"])
    return out


def list_containers(svc: ContainerService, show_all: bool, limit: int, size: bool,
                    raw_filters: str | None, before: str = "", since: str = "") -> list[dict[str, Any]]:
    filters = flt.parse_filters(raw_filters)
    flt.validate(filters, PS_FILTERS)
    for s in filters.get("status", []):
        if s not in STATUSES:
            raise InvalidArgument(f"invalid filter 'status={s}'")
    docs = sorted(svc.store.all(), key=lambda d: d["_wharfie"].get("created_unix", 0), reverse=True)
    if before:
        filters.setdefault("before", []).append(before)
    if since:
        filters.setdefault("since", []).append(since)
    if filters.get("before"):
        pivot = svc.get(filters["before"][0])["_wharfie"]["created_unix"]
        docs = [d for d in docs if d["_wharfie"]["created_unix"] < pivot]
    if filters.get("since"):
        pivot = svc.get(filters["since"][0])["_wharfie"]["created_unix"]
        docs = [d for d in docs if d["_wharfie"]["created_unix"] > pivot]
    show_all = show_all or limit > 0 or bool(filters.get("status") or filters.get("exited"))
    out = []
    for d in docs:
        if not show_all and not d["State"]["Running"]:
            continue
        if not _matches(svc, d, filters):
            continue
        out.append(summary(svc, d, size))
        if limit > 0 and len(out) >= limit:
            break
    return out


def _publishes(d: Doc, spec: str) -> bool:
    """`publish=8080[/tcp]` or `publish=8000-8080[/udp]`: a published *host* port (moby's rule)."""
    ports, _, proto = spec.partition("/")
    lo, _, hi = ports.partition("-")
    try:
        a, b = int(lo), int(hi or lo)
    except ValueError:
        return False
    for key, binds in (d["NetworkSettings"].get("Ports") or {}).items():
        if proto and not key.endswith("/" + proto):
            continue
        if any(a <= int(x.get("HostPort") or 0) <= b for x in binds or []):
            return True
    return False


def _matches(svc: ContainerService, d: Doc, f: dict[str, list[str]]) -> bool:
    checks = [
        ("id", lambda v: d["Id"].startswith(v)),
        ("name", lambda v: v.lstrip("/") in d["Name"].lstrip("/")),
        ("label", lambda v: flt.label_match(d["Config"].get("Labels") or {}, v)),
        ("status", lambda v: state_name(d) == v),
        ("exited", lambda v: not d["State"]["Running"] and str(d["State"]["ExitCode"]) == v
         and not d["State"]["StartedAt"].startswith("0001")),
        ("ancestor", lambda v: _ancestor(svc, d, v)),
        ("volume", lambda v: any(m.get("Name") == v or m.get("Destination") == v or m.get("Source") == v
                                 for m in d.get("Mounts") or [])),
        ("network", lambda v: v in (d["NetworkSettings"].get("Networks") or {}) or d["HostConfig"].get("NetworkMode") == v
         or any(len(v) >= 3 and str(ep.get("NetworkID") or "").startswith(v)
                for ep in (d["NetworkSettings"].get("Networks") or {}).values())),
        ("expose", lambda v: v in (d["Config"].get("ExposedPorts") or {}) or f"{v}/tcp" in (d["Config"].get("ExposedPorts") or {})),
        ("is-task", lambda v: v == "false"),
        ("health", lambda v: v == ((d["State"].get("Health") or {}).get("Status") or "none")),
        ("isolation", lambda v: v in ("", "default")),
        ("publish", lambda v: _publishes(d, v)),
    ]
    for key, pred in checks:
        values = f.get(key)
        if values:
            combine = all if key == "label" else any
            if not combine(pred(v) for v in values):
                return False
    return True


def _ancestor(svc: ContainerService, d: Doc, v: str) -> bool:
    try:
        return svc.images.resolve(v) == d["Image"]
    except NotFound:
        return False


async def prune(svc: ContainerService, raw_filters: str | None) -> dict[str, Any]:
    filters = flt.parse_filters(raw_filters)
    flt.validate(filters, {"until", "label", "label!"})
    now = time.time()
    deleted, reclaimed = [], 0
    for d in list(svc.store.all()):
        if d["State"]["Running"] or d["State"]["Restarting"]:
            continue
        created = d["_wharfie"].get("created_unix", 0)
        if "until" in filters and not all(created < flt.parse_until(v, now) for v in filters["until"]):
            continue
        labels = d["Config"].get("Labels") or {}
        if not all(flt.label_match(labels, s) for s in filters.get("label", [])):
            continue
        if any(flt.label_match(labels, s) for s in filters.get("label!", [])):
            continue
        reclaimed += await asyncio.to_thread(svc.rootfs.disk_usage, d["Id"])
        await svc.remove(d["Id"])
        deleted.append(d["Id"])
    svc.events.publish("container", "prune", "", {"reclaimed": str(reclaimed)})
    return {"ContainersDeleted": deleted or None, "SpaceReclaimed": reclaimed}


# -- top -------------------------------------------------------------------------------------
def top(svc: ContainerService, ref: str, ps_args: str) -> dict[str, Any]:
    doc = svc.get(ref)
    if not doc["State"]["Running"]:
        raise Conflict(f"container {doc['Id']} is not running")
    pids = _container_pids(doc)
    import subprocess

    args = ps_args.split() if ps_args else ["-ef"]
    out = subprocess.run(["ps", *args], capture_output=True, text=True)
    if out.returncode != 0:
        raise InvalidArgument(f"ps: {out.stderr.strip()}")
    lines = out.stdout.splitlines()
    titles = lines[0].split()
    pid_col = titles.index("PID") if "PID" in titles else 1
    procs = []
    for line in lines[1:]:
        fields = line.split(None, len(titles) - 1)
        if len(fields) > pid_col and fields[pid_col].isdigit() and int(fields[pid_col]) in pids:
            procs.append(fields)
    return {"Titles": titles, "Processes": procs}


def _container_pids(doc: Doc) -> set[int]:
    from wharfie.linux import cgroups

    try:
        return set(cgroups.Cgroup.open(doc["_wharfie"]["cgroup"]).pids())
    except (OSError, KeyError):
        return {doc["State"]["Pid"]}


# -- stats -----------------------------------------------------------------------------------
def _stats_once(doc: Doc, pre: dict[str, Any] | None) -> dict[str, Any]:
    from wharfie.linux import cgroups

    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    base: dict[str, Any] = {"read": now, "preread": (pre or {}).get("read", model.ZERO_TIME),
                            "name": doc["Name"], "id": doc["Id"], "num_procs": 0}
    if not doc["State"]["Running"]:
        base.update(pids_stats={}, blkio_stats={}, cpu_stats={"cpu_usage": {"total_usage": 0}},
                    precpu_stats={"cpu_usage": {"total_usage": 0}}, memory_stats={}, networks={})
        return base
    try:
        s = cgroups.Cgroup.open(doc["_wharfie"]["cgroup"]).stats()
    except (OSError, KeyError):
        s = {}
    base.update(
        cpu_stats=s.get("cpu_stats", {}), memory_stats=s.get("memory_stats", {}),
        pids_stats=s.get("pids_stats", {}), blkio_stats=s.get("blkio_stats", {}),
        precpu_stats=(pre or {}).get("cpu_stats", {"cpu_usage": {"total_usage": 0}}),
        networks={},
    )
    if doc["HostConfig"].get("NetworkMode") != "host" and doc["State"].get("Pid"):
        from wharfie.network import netstats

        base["networks"] = netstats.of_pid(int(doc["State"]["Pid"]))
    return base


async def stats(svc: ContainerService, ref: str, stream: bool, one_shot: bool) -> AsyncIterator[bytes]:
    doc = svc.get(ref)
    pre: dict[str, Any] | None = None
    if not stream and not one_shot:
        pre = await asyncio.to_thread(_stats_once, doc, None)
        await asyncio.sleep(1)  # docker's non-stream answer carries a 1s precpu sample
    while True:
        doc = svc.get(ref)
        cur = await asyncio.to_thread(_stats_once, doc, pre)
        yield json.dumps(cur).encode() + b"\n"
        if not stream or not doc["State"]["Running"]:
            return
        pre = cur
        await asyncio.sleep(1)


# -- docker cp -------------------------------------------------------------------------------
class ContainerRoot:
    """The container's root as a directory fd: through /proc/<pid>/root while it runs (so
    volumes and binds are seen), else its overlay mounted on the host, with paths under a
    volume or bind mount resolved inside that mount's source (as dockerd mounts them for
    archive operations; never mounted here: a symlink in the rootfs can't redirect a mount)."""

    def __init__(self, svc: ContainerService, ref: str) -> None:
        self.svc, self.doc = svc, svc.get(ref)
        self.fd = -1
        self.running = False

    def __enter__(self) -> ContainerRoot:
        doc = self.doc
        if doc["State"]["Running"] and doc["State"]["Pid"]:
            self.fd = os.open(f"/proc/{doc['State']['Pid']}/root", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
            self.running = True
        else:
            path = self.svc.rootfs.mount(doc)
            self.fd = os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)
        if not self.doc["State"]["Running"]:
            self.svc.rootfs.unmount(self.doc["Id"])

    def mount_of(self, path: str) -> dict[str, Any] | None:
        """The volume or bind mount `path` (normalised, absolute) lies in, when stopped."""
        if self.running:
            return None
        best: dict[str, Any] | None = None
        for m in self.doc.get("Mounts") or []:
            dest = _abs(m.get("Destination") or "/")
            if m.get("Type") in ("volume", "bind") and m.get("Source") and dest != "/" and \
                    (path == dest or path.startswith(dest + "/")) and \
                    (best is None or len(dest) > len(_abs(best["Destination"]))):
                best = m
        return best

    def open(self, path: str, flags: int) -> int:
        norm = _abs(path)
        mnt = self.mount_of(norm)
        try:
            if mnt is None:
                return openat2(self.fd, norm.lstrip("/") or ".", flags | os.O_CLOEXEC, 0,
                               RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)
            rel = os.path.relpath(norm, _abs(mnt["Destination"]))
            if rel == "." and not os.path.isdir(mnt["Source"]):  # a bind-mounted file
                return os.open(mnt["Source"], flags | os.O_CLOEXEC)
            src = os.open(mnt["Source"], os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
            if mnt.get("_subpath"):  # a volume subpath: its own root, resolved inside the volume
                try:
                    src = openat2(top := src, mnt["_subpath"], os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC, 0,
                                  RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)
                finally:
                    os.close(top)
            try:
                return openat2(src, rel, flags | os.O_CLOEXEC, 0, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)
            finally:
                os.close(src)
        except FileNotFoundError:
            raise NotFound(f"Could not find the file {path} in container {self.doc['Name'].lstrip('/')}") from None


def _abs(path: str) -> str:
    """`path` as an absolute, normalised container path (normpath keeps a leading `//`)."""
    return os.path.normpath("/" + path.lstrip("/"))


def _go_mode(st: os.stat_result) -> int:
    """Go's os.FileMode bits, which the docker CLI decodes from the path-stat header."""
    mode = stat.S_IMODE(st.st_mode) & 0o777
    if stat.S_ISDIR(st.st_mode):
        mode |= 1 << 31
    elif stat.S_ISLNK(st.st_mode):
        mode |= 1 << 27
    if st.st_mode & stat.S_ISUID:
        mode |= 1 << 23
    if st.st_mode & stat.S_ISGID:
        mode |= 1 << 22
    if st.st_mode & stat.S_ISVTX:
        mode |= 1 << 20
    return mode


def path_stat(svc: ContainerService, ref: str, path: str) -> str:
    with ContainerRoot(svc, ref) as root:
        norm = _abs(path)
        parent, name = os.path.split(norm)
        mnt = root.mount_of(norm)
        at_mount = mnt is not None and norm == _abs(mnt["Destination"])
        # a mount point is the mount's root, not the directory under it
        pfd = root.open(norm if at_mount else parent, os.O_PATH | (0 if at_mount else os.O_DIRECTORY))
        try:
            try:
                st = os.stat(name or ".", dir_fd=pfd, follow_symlinks=False) if not at_mount else os.fstat(pfd)
            except FileNotFoundError:
                raise NotFound(f"Could not find the file {path} in container {root.doc['Name'].lstrip('/')}") from None
            link = os.readlink(name, dir_fd=pfd) if stat.S_ISLNK(st.st_mode) else ""
        finally:
            os.close(pfd)
    doc = {"name": name or "/", "size": st.st_size, "mode": _go_mode(st),
           "mtime": datetime.fromtimestamp(st.st_mtime, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
           "linkTarget": link}
    return base64.b64encode(json.dumps(doc).encode()).decode()


def write_archive(svc: ContainerService, ref: str, path: str, out: Any) -> None:
    """Tar up `path` (file or directory, never following symlinks out) to `out`."""
    with ContainerRoot(svc, ref) as root:
        norm = _abs(path)
        base = os.path.basename(norm) or "."
        fd = root.open(norm, os.O_PATH)
        try:
            st = os.fstat(fd)
            with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tf:
                if stat.S_ISDIR(st.st_mode):
                    dfd = os.open(f"/proc/self/fd/{fd}", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
                    try:
                        _add_tree(tf, dfd, base)
                    finally:
                        os.close(dfd)
                elif (mnt := root.mount_of(norm)) is not None and norm == _abs(mnt["Destination"]):
                    with os.fdopen(root.open(norm, os.O_RDONLY), "rb") as fh:  # a bind-mounted file
                        tf.addfile(_tarinfo(os.fstat(fh.fileno()), base, ""), fh)
                else:
                    parent, name = os.path.split(norm)
                    pfd = root.open(parent, os.O_PATH | os.O_DIRECTORY)
                    try:
                        _add_entry(tf, pfd, name, base)
                    finally:
                        os.close(pfd)
        finally:
            os.close(fd)


def _add_tree(tf: tarfile.TarFile, dfd: int, arc: str) -> None:
    ti = _tarinfo(os.fstat(dfd), arc, "")
    tf.addfile(ti)
    for top_dir, dirs, files, tdfd in os.fwalk(".", dir_fd=dfd, follow_symlinks=False):
        rel = os.path.normpath(os.path.join(arc, top_dir))
        for name in sorted(dirs):
            st = os.stat(name, dir_fd=tdfd, follow_symlinks=False)
            if stat.S_ISLNK(st.st_mode):
                _add_entry(tf, tdfd, name, f"{rel}/{name}")
            else:
                tf.addfile(_tarinfo(st, f"{rel}/{name}", ""))
        for name in sorted(files):
            _add_entry(tf, tdfd, name, f"{rel}/{name}")


def _add_entry(tf: tarfile.TarFile, pfd: int, name: str, arc: str) -> None:
    st = os.stat(name, dir_fd=pfd, follow_symlinks=False)
    if stat.S_ISLNK(st.st_mode):
        tf.addfile(_tarinfo(st, arc, os.readlink(name, dir_fd=pfd)))
    elif stat.S_ISREG(st.st_mode):
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=pfd)
        with os.fdopen(fd, "rb") as fh:
            ti = _tarinfo(os.fstat(fh.fileno()), arc, "")
            tf.addfile(ti, fh)
    elif stat.S_ISDIR(st.st_mode):
        tf.addfile(_tarinfo(st, arc, ""))
    else:
        tf.addfile(_tarinfo(st, arc, ""))


def _tarinfo(st: os.stat_result, arc: str, link: str) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(arc)
    ti.mode, ti.uid, ti.gid, ti.mtime = stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, int(st.st_mtime)
    if stat.S_ISDIR(st.st_mode):
        ti.type = tarfile.DIRTYPE
    elif stat.S_ISLNK(st.st_mode):
        ti.type, ti.linkname = tarfile.SYMTYPE, link
    elif stat.S_ISREG(st.st_mode):
        ti.size = st.st_size
    elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
        ti.type = tarfile.CHRTYPE if stat.S_ISCHR(st.st_mode) else tarfile.BLKTYPE
        ti.devmajor, ti.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
    elif stat.S_ISFIFO(st.st_mode):
        ti.type = tarfile.FIFOTYPE
    return ti


def extract_archive(svc: ContainerService, ref: str, path: str, tar_path: str, no_overwrite_dir: bool) -> None:
    """`docker cp` into a container: apply the tar under `path`, contained in the root."""
    from wharfie.archive.apply import apply_layer
    from wharfie.archive.compression import open_decompressed

    doc = svc.get(ref)
    if doc["HostConfig"].get("ReadonlyRootfs"):
        raise Forbidden("container rootfs is marked read-only")
    with ContainerRoot(svc, ref) as root:
        mnt = root.mount_of(_abs(path))
        if mnt is not None and not mnt.get("RW", True):
            raise Forbidden("mounted volume is marked read-only")
        fd = root.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            with open(tar_path, "rb") as fh:
                apply_layer(open_decompressed(fh), f"/proc/self/fd/{fd}", overlay=False)
        except NotADirectoryError:
            raise InvalidArgument(f"extraction point is not a directory: {path}") from None
        finally:
            os.close(fd)



# -- docker diff / docker export ---------------------------------------------------------------
CHANGE_MODIFIED, CHANGE_ADDED, CHANGE_DELETED = 0, 1, 2
# What the runtime itself puts in the upper dir (mount targets); Docker keeps these in an
# "-init" layer, so `docker diff` never lists them.
_RUNTIME_PATHS = ("/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/.dockerenv")
_RUNTIME_TREES = ("/dev", "/proc", "/sys")


def changes(svc: ContainerService, ref: str) -> list[dict[str, Any]]:
    """`GET /containers/{id}/changes`: what the container's writable layer adds, changes and
    deletes against its image (directories only when something below them changed)."""
    doc = svc.get(ref)
    upper = str(svc.rootfs.dir(doc["Id"]) / "diff")
    lowers = [str(svc.images.snapshots.fs(c)) for c in reversed(doc["_wharfie"].get("chain") or [])]
    found: dict[str, int] = {}
    dirs: set[str] = set()
    for top, dnames, fnames, tfd in os.fwalk(upper, follow_symlinks=False):
        rel_top = "/" + os.path.relpath(top, upper).lstrip(".").lstrip("/")
        for name in dnames + fnames:
            path = os.path.join(rel_top, name)
            st = os.stat(name, dir_fd=tfd, follow_symlinks=False)
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                found[path] = CHANGE_DELETED
            elif any(os.path.lexists(low + path) for low in lowers):
                found[path] = CHANGE_MODIFIED
            else:
                found[path] = CHANGE_ADDED
            if stat.S_ISDIR(st.st_mode):
                dirs.add(path)
    keep = {p: k for p, k in found.items() if not _runtime_path(p)}
    above = {a for q in keep for a in _ancestors(q)}  # directories with a change below them
    return [{"Path": p, "Kind": k} for p, k in sorted(keep.items())
            if not (k == CHANGE_MODIFIED and p in dirs and p not in above)]


def _ancestors(path: str) -> list[str]:
    out = []
    while (path := os.path.dirname(path)) != "/":
        out.append(path)
    return out


def _runtime_path(path: str) -> bool:
    return path in _RUNTIME_PATHS or any(path == t or path.startswith(t + "/") for t in _RUNTIME_TREES)


def export_rootfs(svc: ContainerService, ref: str, out: Any) -> None:
    """`docker export`: the container's filesystem as one tar (its overlay, not its volumes)."""
    doc = svc.get(ref)
    path = svc.rootfs.mount(doc)
    try:
        dfd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tf:
                _add_tree(tf, dfd, ".")
        finally:
            os.close(dfd)
    finally:
        if not svc.get(doc["Id"])["State"]["Running"]:
            svc.rootfs.unmount(doc["Id"])
