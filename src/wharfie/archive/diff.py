"""Write a layer tar from an overlayfs upper dir (what `commit` and build steps produce).

Overlay records deletions as 0:0 character devices and replaced directories with the
`trusted.overlay.opaque=y` xattr; layer tars carry them as AUFS-style `.wh.<name>` and
`.wh..wh..opq` entries. Entries are written in sorted order with optional fixed mtimes, so the
same files give the same layer digest (reproducible COPY layers, SOURCE_DATE_EPOCH).
"""

from __future__ import annotations

import os
import stat
import tarfile
from typing import BinaryIO

WHITEOUT_PREFIX = ".wh."
OPAQUE = ".wh..wh..opq"
OVERLAY_XATTR = "trusted.overlay."


def _xattrs(path: str) -> dict[str, str]:
    out: dict[str, str] = {}
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return out
    for name in names:
        if name.startswith(OVERLAY_XATTR):
            continue  # overlay bookkeeping, never part of a layer
        try:
            value = os.getxattr(path, name, follow_symlinks=False)
        except OSError:
            continue
        out["SCHILY.xattr." + name] = value.decode("utf-8", "surrogateescape")
    return out


def _is_opaque(path: str) -> bool:
    try:
        return os.getxattr(path, "trusted.overlay.opaque", follow_symlinks=False) == b"y"
    except OSError:
        return False


def _info(arc: str, st: os.stat_result, mtime: int | None) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(arc)
    ti.mode = stat.S_IMODE(st.st_mode)
    ti.uid, ti.gid = st.st_uid, st.st_gid
    ti.uname = ti.gname = ""
    ti.mtime = int(st.st_mtime) if mtime is None else mtime
    return ti


class _Writer:
    def __init__(self, tf: tarfile.TarFile, mtime: int | None) -> None:
        self.tf, self.mtime = tf, mtime
        self.inodes: dict[tuple[int, int], str] = {}

    def add(self, path: str, arc: str) -> None:
        st = os.lstat(path)
        ti = _info(arc, st, self.mtime)
        ti.pax_headers = {**ti.pax_headers, **_xattrs(path)}
        if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
            self._whiteout(arc)
        elif stat.S_ISDIR(st.st_mode):
            ti.type = tarfile.DIRTYPE
            self.tf.addfile(ti)
            if _is_opaque(path):
                self._plain(f"{arc}/{OPAQUE}")
        elif stat.S_ISLNK(st.st_mode):
            ti.type, ti.linkname = tarfile.SYMTYPE, os.readlink(path)
            self.tf.addfile(ti)
        elif stat.S_ISREG(st.st_mode):
            key = (st.st_dev, st.st_ino)
            if st.st_nlink > 1 and key in self.inodes:
                ti.type, ti.linkname = tarfile.LNKTYPE, self.inodes[key]
                self.tf.addfile(ti)
                return
            self.inodes[key] = arc
            ti.size = st.st_size
            with open(path, "rb") as fh:
                self.tf.addfile(ti, fh)
        elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            ti.type = tarfile.CHRTYPE if stat.S_ISCHR(st.st_mode) else tarfile.BLKTYPE
            ti.devmajor, ti.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
            self.tf.addfile(ti)
        elif stat.S_ISFIFO(st.st_mode):
            ti.type = tarfile.FIFOTYPE
            self.tf.addfile(ti)
        # sockets are not carried in layers (like Docker)

    def _whiteout(self, arc: str) -> None:
        parent, _, name = arc.rpartition("/")
        self._plain(f"{parent}/{WHITEOUT_PREFIX}{name}" if parent else f"{WHITEOUT_PREFIX}{name}")

    def _plain(self, arc: str) -> None:
        ti = tarfile.TarInfo(arc)
        ti.mode, ti.mtime = 0o644, self.mtime or 0
        self.tf.addfile(ti)


def write_diff(upper: str, out: BinaryIO, mtime: int | None = None) -> None:
    """Tar the overlay upper dir `upper` as a layer diff into `out`."""
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tf:
        w = _Writer(tf, mtime)
        for root, dirs, files in os.walk(upper):
            dirs.sort()
            rel = os.path.relpath(root, upper)
            for name in sorted(dirs + files):
                w.add(os.path.join(root, name), name if rel == "." else f"{rel}/{name}")
            # a symlink to a directory is an entry of its own, never descended into
            dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(root, d))]


def write_tree(root: str, out: BinaryIO, mtime: int | None = None) -> None:
    """Tar a plain directory tree (no overlay markers) — used for COPY layers."""
    write_diff(root, out, mtime)
