"""Mounts: mount(2)/umount2(2)/pivot_root(2), bind and overlay helpers, /proc/self/mountinfo.

Run the destructive calls inside a private mount namespace (the container init, or a test's
forked child after `ns.unshare(CLONE_NEWNS)` + `make_rprivate("/")`).
"""

from __future__ import annotations

import ctypes
import errno
import functools
import os
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from wharfie.linux import ns
from wharfie.linux.libc import check, fsencode, libc, syscall

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_SYNCHRONOUS = 0x10
MS_REMOUNT = 0x20
MS_MANDLOCK = 0x40
MS_DIRSYNC = 0x80
MS_NOSYMFOLLOW = 0x100
MS_NOATIME = 0x400
MS_NODIRATIME = 0x800
MS_BIND = 0x1000
MS_MOVE = 0x2000
MS_REC = 0x4000
MS_SILENT = 0x8000
MS_POSIXACL = 0x10000
MS_UNBINDABLE = 0x20000
MS_PRIVATE = 0x40000
MS_SLAVE = 0x80000
MS_SHARED = 0x100000
MS_RELATIME = 0x200000
MS_I_VERSION = 0x800000
MS_STRICTATIME = 0x1000000
MS_LAZYTIME = 0x2000000

# Propagation changes must be a mount(2) call of their own (only MS_REC may join them).
PROPAGATION_FLAGS = MS_SHARED | MS_SLAVE | MS_PRIVATE | MS_UNBINDABLE
ATIME_FLAGS = MS_NOATIME | MS_NODIRATIME | MS_RELATIME | MS_STRICTATIME

MNT_FORCE = 0x1
MNT_DETACH = 0x2
MNT_EXPIRE = 0x4
UMOUNT_NOFOLLOW = 0x8

# statvfs f_flag bits (ST_*) -> MS_* flags.
_ST_TO_MS = {
    os.ST_RDONLY: MS_RDONLY, os.ST_NOSUID: MS_NOSUID, os.ST_NODEV: MS_NODEV,
    os.ST_NOEXEC: MS_NOEXEC, os.ST_NOATIME: MS_NOATIME, os.ST_NODIRATIME: MS_NODIRATIME,
    os.ST_RELATIME: MS_RELATIME,
}

AT_FDCWD = -100
AT_RECURSIVE = 0x8000

# mount(2) copies at most one page of option data; longer overlay options are cut short.
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")

libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                       ctypes.c_char_p]
libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]


def mount(source: str | None, target: str, fstype: str | None, flags: int = 0,
          data: str = "") -> None:
    check(libc.mount(fsencode(source), fsencode(target), fsencode(fstype), flags,
                     fsencode(data) if data else None), target)


def umount(target: str, flags: int = 0) -> None:
    check(libc.umount2(fsencode(target), flags), target)


def pivot_root(new_root: str, put_old: str) -> None:
    """Swap the root mount; `pivot_root(".", ".")` after chdir(new_root) needs no put_old dir."""
    check(syscall("pivot_root", fsencode(new_root), fsencode(put_old)), new_root, put_old)


def make_rprivate(path: str = "/") -> None:
    """Stop mount events propagating between this namespace and the host from `path` down."""
    mount(None, path, None, MS_REC | MS_PRIVATE)


def statvfs_flags(path: str) -> int:
    """The MS_* flags of the mount `path` is on."""
    st_flags = os.statvfs(path).f_flag
    return sum(ms for st, ms in _ST_TO_MS.items() if st_flags & st)


def remount(path: str, flags: int, *, bind: bool = True) -> None:
    """Change the per-mount flags of the mount whose root is `path` (not a /proc/self/fd path
    opened before that mount appeared), keeping the locked flags we don't set.

    The kernel refuses (EPERM in user namespaces) a bind remount that would clear
    nosuid/nodev/noexec/atime flags inherited from the source, so they are read back and
    repeated; an explicit atime flag in `flags` replaces the inherited one.
    """
    keep = statvfs_flags(path) & (MS_NOSUID | MS_NODEV | MS_NOEXEC)
    if not flags & ATIME_FLAGS:
        keep |= statvfs_flags(path) & ATIME_FLAGS
    flags = (flags & ~(PROPAGATION_FLAGS | MS_REC | MS_BIND | MS_REMOUNT)) | keep
    mount(None, path, None, MS_REMOUNT | (MS_BIND if bind else 0) | flags)


def remount_readonly(path: str) -> None:
    """Make the mount at `path` read-only (e.g. a container's rootfs when `readonly` is set)."""
    remount(path, MS_RDONLY)


def bind(src: str, dst: str, readonly: bool = False, recursive: bool = True,
         extra_flags: int = 0, propagation: int | None = None) -> None:
    """Bind `src` onto `dst` with its per-mount flags already set when it appears.

    `extra_flags` may be a parse_mount_options() result: its nosuid/nodev/noexec/atime/
    nosymfollow flags apply to the top mount; a recursive read-only bind makes every submount
    read-only too (Docker's `ro` on kernels with mount_setattr). `propagation` is e.g.
    MS_SLAVE|MS_REC; by default it is taken from `extra_flags` (recursive if MS_REC is there).

    The tree is cloned, configured and attached with the new mount API, so `dst` may be a
    /proc/self/fd/N path opened before the mount (such a path keeps naming the covered
    directory afterwards, where a remount would fail with EINVAL). Kernels older than 5.12
    fall back to mount(2) + remount, which needs `dst` to be a plain path.
    """
    per_mount = extra_flags & _PER_MOUNT_FLAGS | (MS_RDONLY if readonly else 0)
    if propagation is None:
        propagation = split_propagation(extra_flags)[1]
    if not has_mount_setattr():
        _bind_legacy(src, dst, per_mount, recursive, propagation)
        return
    tree = _open_tree(src, recursive)
    try:
        if per_mount:
            _setattr(tree, per_mount)
        if readonly and recursive:
            _setattr(tree, MS_RDONLY, recursive=True)
        # T_SYMLINKS: follow a final symlink (and /proc/self/fd/N) as mount(2) does.
        check(syscall("move_mount", tree, b"", AT_FDCWD, fsencode(dst),
                      _MOVE_MOUNT_F_EMPTY_PATH | _MOVE_MOUNT_T_SYMLINKS), dst)
        if propagation:  # after attaching: attaching under a shared parent makes it shared
            _setattr(tree, 0, propagation=propagation)
    finally:
        os.close(tree)


def _bind_legacy(src: str, dst: str, per_mount: int, recursive: bool, propagation: int) -> None:
    mount(src, dst, None, MS_BIND | (MS_REC if recursive else 0))
    if per_mount:
        remount(dst, per_mount)
    if per_mount & MS_RDONLY and recursive:
        for sub in mounts_under(dst)[1:]:
            remount(sub, MS_RDONLY)
    if propagation:
        mount(None, dst, None, propagation)


@functools.cache
def has_mount_setattr() -> bool:
    """Whether the kernel has mount_setattr(2) (5.12+; open_tree/move_mount came in 5.2)."""
    ret = syscall("mount_setattr", -1, b"", 0, None, 0)
    return not (ret < 0 and ctypes.get_errno() == errno.ENOSYS)


def _open_tree(path: str, recursive: bool) -> int:
    flags = _OPEN_TREE_CLONE | os.O_CLOEXEC | (AT_RECURSIVE if recursive else 0)
    return check(syscall("open_tree", AT_FDCWD, fsencode(path), flags), path)


def _setattr(fd: int, flags: int, recursive: bool = False, propagation: int = 0) -> None:
    """mount_setattr(2) on the mount `fd` refers to: set MS_* per-mount flags (never clears a
    flag, so locked ones stay) and/or change propagation (MS_REC = the whole tree)."""
    attr_set = sum(a for ms, a in _MS_TO_ATTR.items() if flags & ms)
    attr_clr = _MOUNT_ATTR__ATIME if flags & (MS_NOATIME | MS_STRICTATIME | MS_RELATIME) else 0
    attr = _MountAttr(attr_set, attr_clr, propagation & PROPAGATION_FLAGS, 0)
    rec = AT_RECURSIVE if recursive or propagation & MS_REC else 0
    check(syscall("mount_setattr", fd, b"", _AT_EMPTY_PATH | rec, ctypes.byref(attr),
                  ctypes.sizeof(attr)))


def make_readonly_recursive(path: str) -> None:
    """Make the mount at `path` (a mount root) and every mount below it read-only."""
    if not has_mount_setattr():
        for sub in mounts_under(path):
            remount(sub, MS_RDONLY)
        return
    fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    try:
        _setattr(fd, MS_RDONLY, recursive=True)
    finally:
        os.close(fd)


class _MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64),
                ("propagation", ctypes.c_uint64), ("userns_fd", ctypes.c_uint64)]


_PER_MOUNT_FLAGS = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOSYMFOLLOW | ATIME_FLAGS
_OPEN_TREE_CLONE = 0x1
_AT_EMPTY_PATH = 0x1000
_MOUNT_ATTR__ATIME = 0x70
# MS_* -> MOUNT_ATTR_* (relatime is the zero value of the atime field).
_MS_TO_ATTR = {MS_RDONLY: 0x1, MS_NOSUID: 0x2, MS_NODEV: 0x4, MS_NOEXEC: 0x8,
               MS_NOATIME: 0x10, MS_STRICTATIME: 0x20, MS_NODIRATIME: 0x80,
               MS_NOSYMFOLLOW: 0x200000, MS_RELATIME: 0x0}


# -- overlayfs --------------------------------------------------------------------------------
def _escape_overlay(path: str) -> str:
    # overlayfs splits lowerdir on ':' and the option string on ','; both escape with '\'.
    return re.sub(r"([\\:,])", r"\\\1", path)


def overlay_options(lowers: Sequence[str], upper: str | None = None, work: str | None = None,
                    extra: Sequence[str] = ()) -> str:
    """The overlay option string; `lowers` lists the topmost layer first."""
    opts = ["lowerdir=" + ":".join(_escape_overlay(p) for p in lowers)]
    if upper is not None:
        opts += [f"upperdir={_escape_overlay(upper)}", f"workdir={_escape_overlay(work or '')}"]
    return ",".join([*opts, *extra])


def mount_overlay(lowers: Sequence[str], upper: str | None, work: str | None, target: str,
                  extra: Sequence[str] = ()) -> None:
    """Mount an overlay at `target` (read-only if `upper` is None; lowers topmost first).

    When the options exceed a page, the lowers are given relative to their common parent
    from a thread with its own cwd (as containerd does); when even that is too long, they
    are added one by one through the new mount API ("lowerdir+", Linux >= 6.8).
    """
    if not lowers:
        raise ValueError("overlay needs at least one lower directory")
    if upper is not None and work is None:
        raise ValueError("overlay with an upper directory needs a work directory")
    upper_abs = os.path.abspath(upper) if upper is not None else None
    work_abs = os.path.abspath(work) if work is not None else None
    data = overlay_options(lowers, upper_abs, work_abs, extra)
    if len(data) < PAGE_SIZE:
        mount("overlay", target, "overlay", 0, data)
        return
    parent = os.path.commonpath([os.path.abspath(p) for p in lowers])
    rel = [os.path.relpath(os.path.abspath(p), parent) for p in lowers]
    data = overlay_options(rel, upper_abs, work_abs, extra)
    if len(data) < PAGE_SIZE:
        target_abs = os.path.abspath(target)
        in_private_cwd(parent, lambda: mount("overlay", target_abs, "overlay", 0, data))
        return
    _overlay_new_api(lowers, upper_abs, work_abs, os.path.abspath(target), extra)


def in_private_cwd(path: str, fn: Callable[[], None]) -> None:
    """Run `fn` with cwd `path` in a short-lived thread whose cwd is its own (unshare CLONE_FS),
    so the process's (and other threads') cwd never changes."""
    failure: list[BaseException] = []

    def run() -> None:
        try:
            ns.unshare(_CLONE_FS)
            os.chdir(path)
            fn()
        except BaseException as exc:  # handed to the caller's thread below
            failure.append(exc)

    t = threading.Thread(target=run, name="wharfie-private-cwd")
    t.start()
    t.join()
    if failure:
        raise failure[0]


_CLONE_FS = 0x00000200
_FSOPEN_CLOEXEC = 0x1
_FSCONFIG_SET_FLAG = 0
_FSCONFIG_SET_STRING = 1
_FSCONFIG_CMD_CREATE = 6
_FSMOUNT_CLOEXEC = 0x1
_MOVE_MOUNT_F_EMPTY_PATH = 0x4
_MOVE_MOUNT_T_SYMLINKS = 0x10


def _overlay_new_api(lowers: Sequence[str], upper: str | None, work: str | None, target: str,
                     extra: Sequence[str]) -> None:
    fs_fd = check(syscall("fsopen", b"overlay", _FSOPEN_CLOEXEC), "overlay")
    try:
        params: list[tuple[str, str | None]] = [("lowerdir+", os.path.abspath(p)) for p in lowers]
        if upper is not None:
            params += [("upperdir", upper), ("workdir", work)]
        for opt in extra:
            key, eq, val = opt.partition("=")
            params.append((key, val if eq else None))
        for key, value in params:
            _fsconfig(fs_fd, key, value)
        check(syscall("fsconfig", fs_fd, _FSCONFIG_CMD_CREATE, None, None, 0), target)
        mnt_fd = check(syscall("fsmount", fs_fd, _FSMOUNT_CLOEXEC, 0), target)
        try:
            check(syscall("move_mount", mnt_fd, b"", AT_FDCWD, fsencode(target),
                          _MOVE_MOUNT_F_EMPTY_PATH | _MOVE_MOUNT_T_SYMLINKS), target)
        finally:
            os.close(mnt_fd)
    finally:
        os.close(fs_fd)


def _fsconfig(fs_fd: int, key: str, value: str | None) -> None:
    if value is None:
        ret = syscall("fsconfig", fs_fd, _FSCONFIG_SET_FLAG, fsencode(key), None, 0)
    else:
        ret = syscall("fsconfig", fs_fd, _FSCONFIG_SET_STRING, fsencode(key), fsencode(value), 0)
    check(ret, value)


# -- option strings ---------------------------------------------------------------------------
# name -> (clear, set): the mount(8)/OCI option names; anything else is filesystem data.
_OPTIONS: dict[str, tuple[int, int]] = {
    "defaults": (0, 0),
    "ro": (0, MS_RDONLY), "rw": (MS_RDONLY, 0),
    "nosuid": (0, MS_NOSUID), "suid": (MS_NOSUID, 0),
    "nodev": (0, MS_NODEV), "dev": (MS_NODEV, 0),
    "noexec": (0, MS_NOEXEC), "exec": (MS_NOEXEC, 0),
    "sync": (0, MS_SYNCHRONOUS), "async": (MS_SYNCHRONOUS, 0),
    "dirsync": (0, MS_DIRSYNC),
    "remount": (0, MS_REMOUNT),
    "mand": (0, MS_MANDLOCK), "nomand": (MS_MANDLOCK, 0),
    "atime": (MS_NOATIME, 0), "noatime": (0, MS_NOATIME),
    "diratime": (MS_NODIRATIME, 0), "nodiratime": (0, MS_NODIRATIME),
    "relatime": (0, MS_RELATIME), "norelatime": (MS_RELATIME, 0),
    "strictatime": (0, MS_STRICTATIME), "nostrictatime": (MS_STRICTATIME, 0),
    "lazytime": (0, MS_LAZYTIME), "nolazytime": (MS_LAZYTIME, 0),
    "iversion": (0, MS_I_VERSION), "noiversion": (MS_I_VERSION, 0),
    "acl": (0, MS_POSIXACL), "noacl": (MS_POSIXACL, 0),
    "silent": (0, MS_SILENT), "loud": (MS_SILENT, 0),
    "nosymfollow": (0, MS_NOSYMFOLLOW), "symfollow": (MS_NOSYMFOLLOW, 0),
    "bind": (0, MS_BIND), "rbind": (0, MS_BIND | MS_REC),
    "private": (0, MS_PRIVATE), "rprivate": (0, MS_PRIVATE | MS_REC),
    "shared": (0, MS_SHARED), "rshared": (0, MS_SHARED | MS_REC),
    "slave": (0, MS_SLAVE), "rslave": (0, MS_SLAVE | MS_REC),
    "unbindable": (0, MS_UNBINDABLE), "runbindable": (0, MS_UNBINDABLE | MS_REC),
}


def parse_mount_options(options: str | Iterable[str]) -> tuple[int, str]:
    """Split mount options into (MS_* flags, filesystem data string), left to right.

    `"ro,nosuid,size=65536k,mode=755"` -> (MS_RDONLY|MS_NOSUID, "size=65536k,mode=755").
    Propagation options come back in the flags too; `split_propagation` separates them.
    """
    items = options.split(",") if isinstance(options, str) else list(options)
    flags, data = 0, []
    for opt in items:
        if not opt:
            continue
        if opt in _OPTIONS:
            clear, set_ = _OPTIONS[opt]
            flags = (flags & ~clear) | set_
        else:
            data.append(opt)
    return flags, ",".join(data)


def split_propagation(flags: int) -> tuple[int, int]:
    """(flags for the mount call, flags for the separate propagation call incl. MS_REC)."""
    prop = flags & PROPAGATION_FLAGS
    if not prop:
        return flags, 0
    return flags & ~PROPAGATION_FLAGS, prop | (flags & MS_REC)


# -- /proc/self/mountinfo ----------------------------------------------------------------------
@dataclass(frozen=True)
class MountInfo:
    mount_id: int
    parent_id: int
    dev: str
    root: str
    mount_point: str
    options: str
    optional: tuple[str, ...]
    fstype: str
    source: str
    super_options: str


_OCTAL = re.compile(rb"\\([0-7]{3})")


def _unescape(field: bytes) -> str:
    """Decode the kernel's octal escapes (\\040 for space, \\012 newline, \\134 backslash)."""
    return os.fsdecode(_OCTAL.sub(lambda m: bytes([int(m.group(1), 8)]), field))


def parse_mountinfo_line(line: bytes) -> MountInfo:
    fields = line.split()
    sep = fields.index(b"-", 6)
    return MountInfo(
        mount_id=int(fields[0]), parent_id=int(fields[1]), dev=fields[2].decode(),
        root=_unescape(fields[3]), mount_point=_unescape(fields[4]), options=fields[5].decode(),
        optional=tuple(f.decode() for f in fields[6:sep]), fstype=_unescape(fields[sep + 1]),
        source=_unescape(fields[sep + 2]),
        super_options=_unescape(fields[sep + 3]) if len(fields) > sep + 3 else "",
    )


def mountinfo(pid: int | str = "self") -> list[MountInfo]:
    """The mount table of `pid`'s mount namespace, in mount order."""
    with open(f"/proc/{pid}/mountinfo", "rb") as fh:
        return [parse_mountinfo_line(line) for line in fh if line.strip()]


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix.rstrip("/") + "/")


def mounts_under(prefix: str) -> list[str]:
    """Mount points at or below `prefix` (symlinks in it resolved), in mount order; a path
    appears once per mount stacked on it."""
    prefix = os.path.realpath(prefix)
    return [m.mount_point for m in mountinfo() if _under(m.mount_point, prefix)]


def is_mountpoint(path: str) -> bool:
    """Whether something is mounted exactly at `path` (bind mounts of the same fs count)."""
    real = os.path.realpath(path)
    return any(m.mount_point == real for m in mountinfo())


def unmount_all_under(prefix: str) -> None:
    """Lazily detach every mount at or below `prefix`, deepest (and most recent) first."""
    points = mounts_under(prefix)
    order = sorted(enumerate(points), key=lambda ip: (ip[1].count("/"), ip[0]), reverse=True)
    for _, point in order:
        try:
            umount(point, MNT_DETACH)
        except OSError as exc:
            # EINVAL/ENOENT: already gone with a parent we detached first.
            if exc.errno not in (errno.EINVAL, errno.ENOENT):
                raise
