"""Apply a layer tar (a filesystem diff with AUFS-style whiteouts) to a directory, safely.

Every layer is hostile input. The rules, matching Docker where Docker is safe:
- Names are cleaned; a leading `/` is contained (stripped), a name climbing above the root
  (`../x`, `a/../../x`) is refused. Symlink targets may be any text: links are created,
  never followed during extraction, because every parent directory is resolved by the
  kernel inside the root (see `scoped.py`), as if the root were `/`.
- Hardlink targets are cleaned the same way and must already exist inside the root.
- Sizes are bounded (decompression bombs): the declared size of each member is charged to
  the budget before any byte is written, entries are counted, extended headers are capped.

Two whiteout modes:
- overlay (the snapshot is an empty dir that becomes an overlayfs lower dir):
  `d/.wh.x` becomes a 0:0 character device `d/x`, `d/.wh..wh..opq` becomes the xattr
  `trusted.overlay.opaque=y` on `d`.
- merge (apply onto an existing tree): `d/.wh.x` deletes `d/x`; `d/.wh..wh..opq` deletes
  what `d` held before this layer.
"""

from __future__ import annotations

import contextlib
import errno
import os
import posixpath
import stat
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, cast

from wharfie.archive import scoped
from wharfie.errors import InvalidArgument, UnsafeLayer

WHITEOUT_PREFIX = ".wh."
WHITEOUT_META_PREFIX = ".wh..wh."
WHITEOUT_OPAQUE = ".wh..wh..opq"
OVERLAY_OPAQUE_XATTR = "trusted.overlay.opaque"
# A layer must not forge overlayfs metadata (redirects, metacopy, origin...).
_FORBIDDEN_XATTR_PREFIXES = ("trusted.overlay.", "user.overlay.")
_PAX_XATTR = "SCHILY.xattr."

_COPY_CHUNK = 1 << 20
_TAR_BUFSIZE = 32 << 10  # tarfile re-slices this buffer on every header read: keep it modest
_MAX_META_HEADER = 1 << 20  # PAX / GNU long-name headers are read into memory (Go: 1 MiB)
_MAX_ID = 0xFFFF_FFFE
_MAX_NS = (1 << 63) - 1
# Errors that say "this host is in trouble", not "this layer is bad".
_HOST_ERRNOS = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.EROFS,
     errno.ENOSYS}  # ENOSYS: no openat2 (kernel < 5.6 or a seccomp filter); never unsafe fallback
)
# Like Docker: a filesystem without xattr support, or a namespace we may not write, is skipped.
_IGNORED_XATTR_ERRNOS = frozenset({errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM})

_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_DEVICE_TYPES = {
    tarfile.CHRTYPE: stat.S_IFCHR,
    tarfile.BLKTYPE: stat.S_IFBLK,
    tarfile.FIFOTYPE: stat.S_IFIFO,
}
_META_TYPES = (
    tarfile.XHDTYPE,
    tarfile.XGLTYPE,
    tarfile.SOLARIS_XHDTYPE,
    tarfile.GNUTYPE_LONGNAME,
    tarfile.GNUTYPE_LONGLINK,
)


@dataclass
class ApplyLimits:
    max_bytes: int = 64 << 30  # total uncompressed file content; bounded against decompression bombs
    max_entries: int = 10_000_000
    max_name_len: int = 4096


@dataclass
class ApplyStats:
    size: int  # bytes of regular-file content written (what Docker reports as layer size)
    entries: int


def apply_layer(
    stream: BinaryIO, root: str, *, overlay: bool = True, limits: ApplyLimits | None = None
) -> ApplyStats:
    """Extract the uncompressed layer tar `stream` into the existing directory `root`.

    Reads `stream` once, forward only, to its end (trailing bytes after the tar's end
    marker are drained so a digest-verifying reader sees them). Raises InvalidArgument
    (UnsafeLayer for escapes and limits) on bad input; whatever was written before the
    error stays inside `root` for the caller to discard.
    """
    applier = _Applier(root, overlay, limits or ApplyLimits())
    try:
        return applier.run(stream)
    finally:
        applier.close()


# --- limits ------------------------------------------------------------------------------


class _Budget:
    def __init__(self, limits: ApplyLimits) -> None:
        self.limits = limits
        self.bytes_left = limits.max_bytes
        self.entries_left = limits.max_entries

    def take_bytes(self, n: int, what: str) -> None:
        if n < 0:
            raise InvalidArgument(f"malformed layer tar: negative size at {what!r}")
        if n > self.bytes_left:
            raise UnsafeLayer(
                f"layer exceeds the size limit of {self.limits.max_bytes} bytes at {what!r}"
            )
        self.bytes_left -= n

    def take_entry(self, what: str) -> None:
        if self.entries_left <= 0:
            raise UnsafeLayer(
                f"layer exceeds the limit of {self.limits.max_entries} entries at {what!r}"
            )
        self.entries_left -= 1


class _CountingReader:
    """Forwards reads, counting bytes (to tell an empty stream from a corrupt one)."""

    def __init__(self, src: BinaryIO) -> None:
        self._src = src
        self.total = 0

    def read(self, size: int = -1) -> bytes:
        data = self._src.read(size)
        self.total += len(data)
        return data


# --- tar reading -------------------------------------------------------------------------

_HeaderError: type[Exception] = tarfile.HeaderError
_TRUNCATED: type[Exception] = getattr(tarfile, "TruncatedHeaderError")  # noqa: B009
_INVALID: type[Exception] = getattr(tarfile, "InvalidHeaderError")  # noqa: B009
_END: tuple[type[Exception], ...] = (
    getattr(tarfile, "EOFHeaderError"),  # noqa: B009
    getattr(tarfile, "EmptyHeaderError"),  # noqa: B009
)


def _guarded_tarinfo(budget: _Budget) -> type[tarfile.TarInfo]:
    """A TarInfo class that bounds what tarfile reads into memory for one layer.

    tarfile reads PAX/GNU long-name headers and sparse maps whole and treats a corrupt
    header mid-archive as a clean end; these hooks (tarfile's documented subclassing
    point is `_proc_member`) cap the former and turn the latter into errors.
    """

    class GuardedTarInfo(tarfile.TarInfo):
        @classmethod
        def fromtarfile(cls, tf: tarfile.TarFile) -> Any:
            try:
                return super().fromtarfile(tf)
            except (_TRUNCATED, _INVALID) as e:
                raise InvalidArgument(f"malformed layer tar: {e}") from None

        def _proc_member(self, tf: tarfile.TarFile) -> Any:
            if self.size < 0:
                raise InvalidArgument(f"malformed layer tar: negative size at {self.name!r}")
            if self.type == tarfile.GNUTYPE_SPARSE:
                _refuse_sparse()
            if self.type in _META_TYPES:
                if self.size > _MAX_META_HEADER:
                    raise UnsafeLayer(f"layer tar extended header of {self.size} bytes is too large")
                budget.take_bytes(self.size, "extended header")
            if self.type == tarfile.XGLTYPE:
                return self._skip_global(tf)
            return tarfile.TarInfo._proc_member(self, tf)  # type: ignore[attr-defined]

        def _skip_global(self, tf: tarfile.TarFile) -> Any:
            # Docker ignores global PAX headers; tarfile would apply them to every later
            # member (and keep them in memory), so read past and discard.
            tf.fileobj.read(self._block(self.size))  # type: ignore[attr-defined]
            try:
                return self.fromtarfile(tf)
            except _END:
                return None  # the archive ends here
            except _HeaderError as e:
                raise InvalidArgument(f"malformed layer tar: {e}") from None

        def _proc_gnusparse_00(self, *args: object) -> None:
            _refuse_sparse()

        def _proc_gnusparse_01(self, *args: object) -> None:
            _refuse_sparse()

        def _proc_gnusparse_10(self, *args: object) -> None:
            _refuse_sparse()

    return GuardedTarInfo


def _refuse_sparse() -> None:
    # Sparse maps are unbounded lists read into memory; image tools never write them.
    raise InvalidArgument("sparse files in layer tars are not supported")


class _EmptyLayer(Exception):
    """The stream held no bytes at all: an empty layer, as Docker treats it."""


def _open_tar(reader: _CountingReader, budget: _Budget) -> tarfile.TarFile:
    try:
        return tarfile.open(
            fileobj=cast(BinaryIO, reader),
            mode="r|",
            bufsize=_TAR_BUFSIZE,
            tarinfo=_guarded_tarinfo(budget),
        )
    except tarfile.ReadError:
        if reader.total == 0:
            raise _EmptyLayer() from None
        raise


@contextlib.contextmanager
def _tar_errors() -> Iterator[None]:
    """Report tarfile's own failures as bad input."""
    try:
        yield
    except tarfile.TarError as e:
        raise InvalidArgument(f"invalid layer tar: {e}") from None
    except RecursionError:
        # tarfile recurses once per extended header chained before a member.
        raise UnsafeLayer("layer tar chains too many extended headers") from None


def _members(tf: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    """Yield members one by one without tarfile's ever-growing member list."""
    while (ti := tf.next()) is not None:
        tf.members.clear()  # type: ignore[attr-defined]
        yield ti


# --- names -------------------------------------------------------------------------------


def clean_name(raw: str, limits: ApplyLimits, what: str = "path") -> str:
    """Clean a member name (or hardlink target) to a root-relative path; "." is the root.

    A leading "/" is contained (it means the layer root); climbing above the root is
    refused like Docker's "breakout" check.
    """
    if not raw:
        raise UnsafeLayer(f"invalid {what} in layer: empty name")
    if "\0" in raw:
        raise UnsafeLayer(f"invalid {what} in layer: {raw!r} contains NUL")
    if len(os.fsencode(raw)) > limits.max_name_len:
        raise UnsafeLayer(f"invalid {what} in layer: {raw[:64]!r}... is too long")
    if raw.startswith("/"):
        return posixpath.normpath(raw).lstrip("/") or "."
    path = posixpath.normpath(raw)
    if path == ".." or path.startswith("../"):
        raise UnsafeLayer(f"invalid {what} in layer: {raw!r} climbs out of the layer root")
    return path


def _split(path: str) -> tuple[str, str]:
    parent, _, name = path.rpartition("/")
    return parent, name


# --- metadata ----------------------------------------------------------------------------


def _ids(ti: tarfile.TarInfo) -> tuple[int, int]:
    if not (0 <= ti.uid <= _MAX_ID and 0 <= ti.gid <= _MAX_ID):
        raise InvalidArgument(f"invalid owner {ti.uid}:{ti.gid} for {ti.name!r} in layer")
    return ti.uid, ti.gid


def _pax_ns(value: str | None) -> int | None:
    # PAX times are decimal seconds with optional fraction; parse exactly, refuse oddities.
    if value is None or len(value) > 40:
        return None
    sec, _, frac = value.partition(".")
    body = sec[1:] if sec.startswith("-") else sec
    if not body.isdigit() or (frac and not frac.isdigit()):
        return None
    ns = int(body) * 1_000_000_000 + int((frac + "000000000")[:9])
    return -ns if sec.startswith("-") else ns


def _times(ti: tarfile.TarInfo) -> tuple[int, int]:
    """(atime, mtime) in ns; atime never before mtime; out-of-range times become the epoch."""
    mtime = _pax_ns(ti.pax_headers.get("mtime"))
    if mtime is None:
        mtime = int(ti.mtime) * 1_000_000_000 if abs(ti.mtime) < 1e12 else 0
    pax_atime = _pax_ns(ti.pax_headers.get("atime"))
    atime = max(pax_atime if pax_atime is not None else mtime, mtime)

    def bound(t: int) -> int:
        return t if 0 <= t <= _MAX_NS else 0

    return bound(atime), bound(mtime)


def _xattrs(ti: tarfile.TarInfo) -> list[tuple[str, bytes]]:
    out = []
    for key, value in ti.pax_headers.items():
        if key.startswith(_PAX_XATTR):
            name = key[len(_PAX_XATTR) :]
            if not name.startswith(_FORBIDDEN_XATTR_PREFIXES):
                out.append((name, value.encode("utf-8", "surrogateescape")))
    return out


def _set_xattrs(target: int | str, ti: tarfile.TarInfo) -> None:
    """Set the member's xattrs on an fd or a no-follow path; skip what the kernel won't take."""
    for name, value in _xattrs(ti):
        try:
            if isinstance(target, int):
                os.setxattr(target, name, value)
            else:
                os.setxattr(target, name, value, follow_symlinks=False)
        except OSError as e:
            if e.errno not in _IGNORED_XATTR_ERRNOS:
                raise


def _proc_path(dir_fd: int, name: str) -> str:
    # For calls without a dir_fd form (setxattr): the fd link pins the already-contained
    # parent, and the final name is used with follow_symlinks=False.
    return f"/proc/self/fd/{dir_fd}/{name}"


# --- the applier -------------------------------------------------------------------------


class _Applier:
    def __init__(self, root: str, overlay: bool, limits: ApplyLimits) -> None:
        self.overlay = overlay
        self.limits = limits
        self.budget = _Budget(limits)
        self.root = scoped.ScopedRoot(root)
        self.size = 0
        self.entries = 0
        # Directory mode and times are set last: writing children changes a dir's mtime,
        # and a read-only mode would block them.
        self.dirs: list[tuple[str, int, tuple[int, int]]] = []
        # Merge mode: what this layer wrote (and their parents) survives its opaque markers.
        self.written: set[str] = set()
        self.written_parents: set[str] = set()

    def close(self) -> None:
        self.root.close()

    def run(self, stream: BinaryIO) -> ApplyStats:
        reader = _CountingReader(stream)
        try:
            # Opening reads the first member already, so it gets the same guards.
            with _tar_errors(), _open_tar(reader, self.budget) as tf:
                for ti in _members(tf):
                    self._apply_member(tf, ti)
        except _EmptyLayer:
            pass
        self._finish_dirs()
        self._drain(reader)
        return ApplyStats(size=self.size, entries=self.entries)

    def _drain(self, reader: _CountingReader) -> None:
        while chunk := reader.read(_COPY_CHUNK):
            self.budget.take_bytes(len(chunk), "data after the end of the tar")

    def _apply_member(self, tf: tarfile.TarFile, ti: tarfile.TarInfo) -> None:
        self.budget.take_entry(ti.name)
        if ti.isreg():
            self.budget.take_bytes(ti.size, ti.name)
        self.entries += 1
        try:
            self._dispatch(tf, ti)
        except OSError as e:
            if e.errno in _HOST_ERRNOS:
                raise
            raise InvalidArgument(f"cannot apply layer entry {ti.name!r}: {e.strerror}") from e
        except (ValueError, OverflowError) as e:
            raise InvalidArgument(f"cannot apply layer entry {ti.name!r}: {e}") from e
        finally:
            self.root.release()

    def _dispatch(self, tf: tarfile.TarFile, ti: tarfile.TarInfo) -> None:
        path = clean_name(ti.name, self.limits)
        first, _, _ = path.partition("/")
        if first.startswith(WHITEOUT_META_PREFIX) and first != WHITEOUT_OPAQUE:
            return  # AUFS bookkeeping (.wh..wh.plnk, .wh..wh.aufs): not part of the image
        parent, base = _split(path)
        if any(p.startswith(WHITEOUT_PREFIX) for p in parent.split("/")):
            raise UnsafeLayer(f"invalid path in layer: {ti.name!r} has a whiteout as a directory")
        if base == WHITEOUT_OPAQUE:
            self._opaque(parent)
        elif base.startswith(WHITEOUT_META_PREFIX):
            return
        elif base.startswith(WHITEOUT_PREFIX):
            self._whiteout(ti, parent, base[len(WHITEOUT_PREFIX) :])
        elif path == ".":
            self._root_entry(ti)
        else:
            self._write(tf, ti, path)

    # --- whiteouts ---

    def _whiteout(self, ti: tarfile.TarInfo, parent: str, name: str) -> None:
        if name in ("", ".", ".."):
            raise UnsafeLayer(f"invalid whiteout in layer: {ti.name!r}")
        if self.overlay:
            dfd = self.root.dir(parent, create=True)
            self._clear(dfd, name, keep_dir=False)
            os.mknod(name, stat.S_IFCHR, 0, dir_fd=dfd)
            uid, gid = _ids(ti)
            os.chown(name, uid, gid, dir_fd=dfd, follow_symlinks=False)
            return
        existing = self._existing_dir(parent)
        if existing is not None:
            self._clear(existing, name, keep_dir=False)

    def _opaque(self, parent: str) -> None:
        if self.overlay:
            fd = scoped.open_dir(self.root.dir(parent, create=True), ".")
            try:
                os.setxattr(fd, OVERLAY_OPAQUE_XATTR, b"y")
            finally:
                os.close(fd)
            return
        existing = self._existing_dir(parent)
        if existing is not None:
            self._purge_older(existing, parent)

    def _existing_dir(self, rel: str) -> int | None:
        try:
            return self.root.dir(rel, create=False)
        except (FileNotFoundError, NotADirectoryError):
            return None  # nothing there to delete

    def _purge_older(self, dfd: int, rel: str) -> None:
        """Merge-mode opaque dir: delete what existed before this layer, keep what it wrote."""
        stack = [(scoped.open_dir(dfd, "."), rel)]
        try:
            while stack:
                fd, prefix = stack.pop()
                try:
                    with os.scandir(fd) as it:
                        names = [(e.name, e.is_dir(follow_symlinks=False)) for e in it]
                    for name, is_dir in names:
                        child = f"{prefix}/{name}" if prefix else name
                        if child in self.written or child in self.written_parents:
                            if is_dir:
                                stack.append((scoped.open_dir(fd, name), child))
                        else:
                            scoped.remove(fd, name)
                            self.root.invalidate()
                finally:
                    os.close(fd)
        finally:
            for fd, _ in stack:
                os.close(fd)

    # --- entries ---

    def _clear(self, dfd: int, name: str, *, keep_dir: bool) -> bool:
        """Make room for `name`; return True if an existing directory is kept (merged)."""
        try:
            st = os.lstat(name, dir_fd=dfd)
        except FileNotFoundError:
            return False
        if keep_dir and stat.S_ISDIR(st.st_mode):
            return True
        scoped.remove(dfd, name)
        if stat.S_ISDIR(st.st_mode) or stat.S_ISLNK(st.st_mode):
            self.root.invalidate()
        return False

    def _record(self, path: str) -> None:
        if self.overlay:
            return
        self.written.add(path)
        parent = _split(path)[0]
        while parent and parent not in self.written_parents:
            self.written_parents.add(parent)
            parent = _split(parent)[0]

    def _write(self, tf: tarfile.TarFile, ti: tarfile.TarInfo, path: str) -> None:
        parent, name = _split(path)
        dfd = self.root.dir(parent, create=True)
        if ti.islnk():
            self._hardlink(ti, dfd, name)
        elif ti.isdir():
            self._directory(ti, dfd, name, path)
        else:
            self._clear(dfd, name, keep_dir=False)
            if ti.isreg():
                self._regular(tf, ti, dfd, name)
            elif ti.issym():
                self._symlink(ti, dfd, name)
            elif ti.type in _DEVICE_TYPES:
                self._device(ti, dfd, name)
            else:
                raise InvalidArgument(f"unsupported tar entry type {ti.type!r} for {ti.name!r}")
        self._record(path)

    def _regular(self, tf: tarfile.TarFile, ti: tarfile.TarInfo, dfd: int, name: str) -> None:
        fd = os.open(name, _FILE_FLAGS, 0o600, dir_fd=dfd)
        try:
            self.size += _copy(_member_data(tf, ti), fd, ti)
            uid, gid = _ids(ti)
            # chown before chmod (chown clears setuid) and before xattrs (it clears caps).
            os.fchown(fd, uid, gid)
            os.fchmod(fd, ti.mode & 0o7777)
            _set_xattrs(fd, ti)
            os.utime(fd, ns=_times(ti))
        finally:
            os.close(fd)

    def _directory(self, ti: tarfile.TarInfo, dfd: int, name: str, path: str) -> None:
        if not self._clear(dfd, name, keep_dir=True):
            scoped.make_dir(dfd, name, 0o700)
        fd = scoped.open_dir(dfd, name)
        try:
            self._dir_meta(fd, ti, path)
        finally:
            os.close(fd)

    def _root_entry(self, ti: tarfile.TarInfo) -> None:
        if not ti.isdir():
            raise UnsafeLayer(f"invalid layer entry {ti.name!r}: it would replace the layer root")
        fd = scoped.open_dir(self.root.fd, ".")
        try:
            self._dir_meta(fd, ti, ".")
        finally:
            os.close(fd)

    def _dir_meta(self, fd: int, ti: tarfile.TarInfo, path: str) -> None:
        uid, gid = _ids(ti)
        os.fchown(fd, uid, gid)
        _set_xattrs(fd, ti)
        self.dirs.append((path, ti.mode & 0o7777, _times(ti)))

    def _symlink(self, ti: tarfile.TarInfo, dfd: int, name: str) -> None:
        target = ti.linkname
        if not target or "\0" in target or len(os.fsencode(target)) > self.limits.max_name_len:
            raise UnsafeLayer(f"invalid symlink target for {ti.name!r} in layer")
        os.symlink(target, name, dir_fd=dfd)
        self.root.invalidate()
        self._node_meta(ti, dfd, name, chmod=False)

    def _device(self, ti: tarfile.TarInfo, dfd: int, name: str) -> None:
        kind = _DEVICE_TYPES[ti.type]
        dev = os.makedev(ti.devmajor, ti.devminor) if kind != stat.S_IFIFO else 0
        os.mknod(name, kind | 0o600, dev, dir_fd=dfd)
        self._node_meta(ti, dfd, name, chmod=True)

    def _node_meta(self, ti: tarfile.TarInfo, dfd: int, name: str, *, chmod: bool) -> None:
        uid, gid = _ids(ti)
        os.chown(name, uid, gid, dir_fd=dfd, follow_symlinks=False)
        if chmod:
            os.chmod(name, ti.mode & 0o7777, dir_fd=dfd, follow_symlinks=False)
        _set_xattrs(_proc_path(dfd, name), ti)
        os.utime(name, ns=_times(ti), dir_fd=dfd, follow_symlinks=False)

    def _hardlink(self, ti: tarfile.TarInfo, dfd: int, name: str) -> None:
        target = clean_name(ti.linkname, self.limits, "hardlink target")
        if target == ".":
            raise UnsafeLayer(f"invalid hardlink {ti.name!r} in layer: target is the root")
        tparent, tname = _split(target)
        try:
            tfd = self.root.dir(tparent, create=False)
            tst = os.lstat(tname, dir_fd=tfd)
        except (FileNotFoundError, NotADirectoryError):
            raise InvalidArgument(
                f"invalid hardlink {ti.name!r} in layer: target {ti.linkname!r} not found"
            ) from None
        if stat.S_ISDIR(tst.st_mode):
            raise InvalidArgument(f"invalid hardlink {ti.name!r} in layer: target is a directory")
        try:
            if os.path.samestat(tst, os.lstat(name, dir_fd=dfd)):
                return  # already this very inode (a member linked to itself)
        except FileNotFoundError:
            pass
        self._clear(dfd, name, keep_dir=False)
        # No AT_SYMLINK_FOLLOW: a link to a symlink is another symlink, never its target.
        os.link(tname, name, src_dir_fd=tfd, dst_dir_fd=dfd, follow_symlinks=False)

    def _finish_dirs(self) -> None:
        for path, mode, times in self.dirs:
            try:
                fd = self.root.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
            except (FileNotFoundError, NotADirectoryError):
                continue  # replaced or deleted by a later member
            except OSError as e:
                if e.errno == errno.ELOOP:  # a later member made it a symlink
                    continue
                raise
            try:
                os.fchmod(fd, mode)
                os.utime(fd, ns=times)
            finally:
                os.close(fd)


def _member_data(tf: tarfile.TarFile, ti: tarfile.TarInfo) -> Any:
    """The stream to read `ti`'s data from.

    The tar stream itself when it sits at the member's data (always, for non-sparse
    members in "r|" mode): that skips extractfile's two extra buffer layers, a quarter
    of the time spent per byte.
    """
    raw = getattr(tf, "fileobj", None)
    if ti.sparse is None and raw is not None and raw.tell() == ti.offset_data:
        return raw
    return tf.extractfile(ti)


def _copy(src: Any, fd: int, ti: tarfile.TarInfo) -> int:
    """Copy exactly `ti.size` bytes from `src` to `fd`."""
    left = ti.size
    while left:
        chunk = src.read(min(left, _COPY_CHUNK))
        if not chunk:
            raise InvalidArgument(f"layer tar is truncated in {ti.name!r}")
        left -= len(chunk)
        view = memoryview(chunk)
        while view:
            view = view[os.write(fd, view) :]
    return ti.size
