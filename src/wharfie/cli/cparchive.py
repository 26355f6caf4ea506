"""The local side of ``docker cp``: moby's ``archive`` copy helpers.

Paths keep docker's trailing-``/``/``/.`` semantics (``PreserveTrailingDotOrSeparator``,
``PrepareArchiveCopy``, ``RebaseArchiveEntries``). Archives we send are built by
walking the source like ``TarWithOptions`` and streamed as they are written.
Archives we receive come from a container and are hostile: every entry must stay
inside the destination, links may not point out of it, nothing is written through a
symlink, and no device node is created.
"""

from __future__ import annotations

import os
import posixpath
import stat
import tarfile
import threading
from collections.abc import Iterator
from typing import IO, Any

from wharfie.cli.command import CLIError

#: Go ``os.FileMode`` bits in the ``X-Docker-Container-Path-Stat`` header
MODE_DIR = 1 << 31
MODE_SYMLINK = 1 << 27
MODE_DEVICE = 1 << 26
MODE_NAMED_PIPE = 1 << 25
MODE_SOCKET = 1 << 24
MODE_CHAR_DEVICE = 1 << 21
MODE_IRREGULAR = 1 << 19


def go_clean(path: str) -> str:
    """Go's ``filepath.Clean`` (``//a`` is ``/a``, unlike ``os.path.normpath``)."""
    if not path:
        return "."
    cleaned = posixpath.normpath(path)
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    return cleaned


def go_join(*parts: str) -> str:
    joined = "/".join(p for p in parts if p)
    return go_clean(joined) if joined else ""


def go_dir(path: str) -> str:
    return go_clean(posixpath.dirname(path) or ".")


def go_base(path: str) -> str:
    if not path:
        return "."
    path = path.rstrip("/")
    if not path:
        return "/"
    return path.rsplit("/", 1)[-1]


def specifies_current_dir(path: str) -> bool:
    return go_base(path) == "."


def has_trailing_separator(path: str) -> bool:
    return path.endswith("/")


def preserve_trailing_dot_or_separator(cleaned: str, original: str) -> str:
    if not specifies_current_dir(cleaned) and specifies_current_dir(original):
        if not has_trailing_separator(cleaned):
            cleaned += "/"
        cleaned += "."
    if not has_trailing_separator(cleaned) and has_trailing_separator(original):
        cleaned += "/"
    return cleaned


def resolve_local_path(path: str) -> str:
    return preserve_trailing_dot_or_separator(go_clean(os.path.abspath(path)), path)


def split_path_dir_entry(path: str) -> tuple[str, str]:
    cleaned = go_clean(path)
    if specifies_current_dir(path):
        cleaned += "/."
    return go_dir(cleaned), go_base(cleaned)


def get_rebase_name(path: str, resolved: str) -> tuple[str, str]:
    rebase = ""
    if specifies_current_dir(path) and not specifies_current_dir(resolved):
        resolved += "/."
    if has_trailing_separator(path) and not has_trailing_separator(resolved):
        resolved += "/"
    if go_base(path) != go_base(resolved):
        rebase = go_base(path)
    return resolved, rebase


def _go_errno(e: OSError) -> str:
    reason = (e.strerror or str(e)).strip()
    return reason[:1].lower() + reason[1:]


def _eval_symlinks(path: str) -> str:
    """Go's ``filepath.EvalSymlinks``: the path must exist."""
    try:
        os.lstat(path)
    except OSError as e:
        raise CLIError(f"lstat {path}: {_go_errno(e)}") from None
    return go_clean(os.path.realpath(path))


class CopyInfo:
    """``archive.CopyInfo``: a path, whether it exists / is a dir, and a rebase name."""

    def __init__(self, path: str, exists: bool = False, is_dir: bool = False,
                 rebase_name: str = "") -> None:
        self.path = path
        self.exists = exists
        self.is_dir = is_dir
        self.rebase_name = rebase_name


def copy_info_source_path(path: str, follow_link: bool) -> CopyInfo:
    """``CopyInfoSourcePath`` + ``ResolveHostSourcePath``."""
    if follow_link:
        resolved, rebase = get_rebase_name(path, _eval_symlinks(path))
    else:
        dir_path, base = posixpath.split(path)
        resolved_dir = _eval_symlinks(dir_path or ".")
        resolved = resolved_dir + "/" + base
        rebase = ""
        if has_trailing_separator(path) and go_base(path) != go_base(resolved):
            rebase = go_base(path)
    try:
        st = os.lstat(resolved)
    except OSError as e:
        raise CLIError(f"lstat {resolved}: {_go_errno(e)}") from None
    return CopyInfo(resolved, True, stat.S_ISDIR(st.st_mode), rebase)


def copy_info_destination_path(path: str) -> CopyInfo:
    """``CopyInfoDestinationPath``: follow up to 10 symlinks of a local destination."""
    original = path
    try:
        st: os.stat_result | None = os.lstat(path)
    except FileNotFoundError:
        st = None
    except OSError as e:
        raise CLIError(f"lstat {path}: {_go_errno(e)}") from None
    if st is not None and not stat.S_ISLNK(st.st_mode):
        return CopyInfo(path, True, stat.S_ISDIR(st.st_mode))
    n = 0
    while st is not None and stat.S_ISLNK(st.st_mode):
        if n > 10:
            raise CLIError("too many symlinks in " + original)
        n += 1
        target = os.readlink(path)
        if not target.startswith("/"):
            target = go_join(split_path_dir_entry(path)[0], target)
        path = target
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            st = None
    if st is None:
        parent = split_path_dir_entry(path)[0]
        try:
            pst = os.stat(parent)
        except OSError as e:
            raise CLIError(f"stat {parent}: {_go_errno(e)}") from None
        if not stat.S_ISDIR(pst.st_mode):
            raise CLIError("not a directory")
        return CopyInfo(path)
    return CopyInfo(path, True, stat.S_ISDIR(st.st_mode))


def prepare_archive_copy(src: CopyInfo, dst: CopyInfo) -> tuple[str, Rules]:
    """``PrepareArchiveCopy``: (directory to extract into, the rebase rules)."""
    dst_dir, dst_base = split_path_dir_entry(dst.path)
    _, src_base = split_path_dir_entry(src.path)
    if dst.exists and dst.is_dir:
        return dst.path, []
    if dst.exists and src.is_dir:
        raise CLIError("cannot copy directory")
    if not dst.exists and not src.is_dir and (has_trailing_separator(dst.path)
                                              or specifies_current_dir(dst.path)):
        raise CLIError("no such directory")
    if src.rebase_name:
        src_base = src.rebase_name
    return dst_dir, [(src_base, dst_base)]


Rules = list[tuple[str, str]]


def rebase(name: str, rules: Rules) -> str:
    """``RebaseArchiveEntries`` (once per rule, in order): replace the first
    occurrence of the old base with the new one."""
    for old, new in rules:
        if old == "/":
            old = ""
        name = name.replace(old, new, 1)
    return name


# ----------------------------------------------------------------------------
# building an archive (copy to a container)


class _QueueWriter:
    """A file object whose writes become chunks for a streamed request body."""

    def __init__(self) -> None:
        import queue

        self.queue: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=16)
        self.offset = 0
        self._buf = bytearray()

    def write(self, data: bytes) -> int:
        self._buf += data
        self.offset += len(data)
        if len(self._buf) >= 64 * 1024:
            self.flush()
        return len(data)

    def flush(self) -> None:
        if self._buf:
            self.queue.put(bytes(self._buf))
            self._buf.clear()

    def tell(self) -> int:
        return self.offset


def _walk(root: str) -> Iterator[str]:
    """``filepath.WalkDir`` order: the root, then entries sorted, depth first."""
    yield root
    try:
        st = os.lstat(root)
    except OSError:
        return
    if not stat.S_ISDIR(st.st_mode):
        return
    try:
        names = sorted(os.listdir(root))
    except OSError:
        return
    for name in names:
        yield from _walk(root.rstrip("/") + "/" + name)


def _tar_entries(src: CopyInfo, rules: Rules) -> Iterator[tuple[str, str]]:
    """(local path, archive name) pairs, as ``TarResourceRebase`` names them."""
    source_dir, source_base = split_path_dir_entry(src.path)
    include, rebase_name = source_base, src.rebase_name
    walk_root = source_dir.rstrip("/") + "/" + include
    for path in _walk(walk_root):
        rel = posixpath.relpath(path, source_dir)
        if include == "." and rel != ".":
            rel = "./" + rel
        if rebase_name:
            rel = rel.replace(include, "" if rebase_name == "/" else rebase_name, 1)
        yield path, rebase(rel, rules)


def tar_stream(src: CopyInfo, rules: Rules,
               counter: list[int] | None = None) -> Iterator[bytes]:
    """Stream a tar of ``src`` (renamed by ``rules``) as it is built, chunk by chunk."""
    sink = _QueueWriter()

    def produce() -> None:
        try:
            tar = tarfile.TarFile(fileobj=sink, mode="w",  # type: ignore[arg-type]
                                  format=tarfile.PAX_FORMAT)
            seen: dict[tuple[int, int], str] = {}
            for path, name in _tar_entries(src, rules):
                try:
                    _add(tar, path, name, seen)
                except OSError:
                    continue  # moby logs "Can't add file" and goes on
            sink.write(tarfile.NUL * (tarfile.BLOCKSIZE * 2))
            # close() would pad to a 10 KiB record; Go writes only the two zero blocks
            tar.closed = True  # type: ignore[attr-defined]
            sink.flush()
            sink.queue.put(None)
        except BaseException as e:  # noqa: BLE001 - handed to the consumer
            sink.flush()
            sink.queue.put(e)

    threading.Thread(target=produce, name="tar", daemon=True).start()
    while True:
        item = sink.queue.get()
        if item is None:
            return
        if isinstance(item, BaseException):
            raise CLIError(str(item))
        if counter is not None:
            counter[0] += len(item)
        yield item


def _add(tar: tarfile.TarFile, path: str, name: str, seen: dict[tuple[int, int], str]) -> None:
    st = os.lstat(path)
    info = tarfile.TarInfo(name + ("/" if stat.S_ISDIR(st.st_mode) and not name.endswith("/")
                                   else ""))
    info.mode = stat.S_IMODE(st.st_mode)
    info.uid, info.gid = st.st_uid, st.st_gid
    info.uname = info.gname = ""
    info.mtime = int(st.st_mtime)
    if stat.S_ISREG(st.st_mode):
        if st.st_nlink > 1:
            key = (st.st_dev, st.st_ino)
            if key in seen:
                info.type = tarfile.LNKTYPE
                info.linkname = seen[key]
                tar.addfile(info)
                return
            seen[key] = info.name
        info.type = tarfile.REGTYPE
        info.size = st.st_size
        with open(path, "rb") as f:
            tar.addfile(info, f)
        return
    if stat.S_ISDIR(st.st_mode):
        info.type = tarfile.DIRTYPE
    elif stat.S_ISLNK(st.st_mode):
        info.type = tarfile.SYMTYPE
        info.linkname = os.readlink(path)
    elif stat.S_ISFIFO(st.st_mode):
        info.type = tarfile.FIFOTYPE
    elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
        info.type = tarfile.CHRTYPE if stat.S_ISCHR(st.st_mode) else tarfile.BLKTYPE
        info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
    else:
        return  # sockets are not archived
    tar.addfile(info)


# ----------------------------------------------------------------------------
# extracting an archive (copy from a container)


def _inside(root: str, path: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def extract(stream: IO[bytes], dest: str, rules: Rules) -> None:
    """``Untar`` with ``NoLchown`` and ``NoOverwriteDirNonDir``, refusing escapes."""
    dest = go_clean(dest)
    real_dest = os.path.realpath(dest)
    dirs: list[tuple[str, int]] = []
    try:
        tar = tarfile.open(fileobj=stream, mode="r|*")
    except tarfile.TarError as e:
        raise CLIError(str(e)) from None
    with tar:
        try:
            for member in tar:
                _extract_one(tar, member, dest, real_dest, rules, dirs)
        except tarfile.TarError as e:
            raise CLIError(str(e)) from None
    for path, mtime in reversed(dirs):
        try:
            os.utime(path, (mtime, mtime), follow_symlinks=False)
        except OSError:
            pass


def _extract_one(tar: tarfile.TarFile, member: tarfile.TarInfo, dest: str, real_dest: str,
                 rules: Rules, dirs: list[tuple[str, int]]) -> None:
    if member.type in (tarfile.XGLTYPE, tarfile.XHDTYPE):
        return
    name = go_clean(rebase(member.name, rules))
    if member.islnk():
        member.linkname = rebase(member.linkname, rules)
    path = go_join(dest, name)
    rel = posixpath.relpath(path, dest)
    if rel == ".." or rel.startswith("../") or name.startswith("/"):
        raise CLIError(f'"{name}" is outside of "{dest}"')
    parent = go_dir(path)
    if not os.path.lexists(parent):
        os.makedirs(parent, 0o755, exist_ok=True)
    # never write through a symlink planted by an earlier entry
    if not _inside(real_dest, os.path.realpath(parent)):
        raise CLIError(f'"{name}" is outside of "{dest}"')
    try:
        existing: os.stat_result | None = os.lstat(path)
    except FileNotFoundError:
        existing = None
    if existing is not None:
        is_dir = stat.S_ISDIR(existing.st_mode)
        if is_dir and not member.isdir():
            raise CLIError(f'cannot overwrite directory "{path}" with non-directory "{dest}"')
        if not is_dir and member.isdir():
            raise CLIError(f'cannot overwrite non-directory "{path}" with directory "{dest}"')
        if is_dir and name == ".":
            return
        if not (is_dir and member.isdir()):
            os.unlink(path)
    mode = member.mode & 0o7777
    if member.isdir():
        if existing is None:
            os.mkdir(path, 0o700)
        os.chmod(path, mode)
        dirs.append((path, int(member.mtime)))
        return
    if member.isreg():
        src = tar.extractfile(member)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as out:
            if src is not None:
                while True:
                    chunk = src.read(64 * 1024)
                    if not chunk:
                        break
                    out.write(chunk)
            os.fchmod(out.fileno(), mode)
    elif member.issym():
        target = go_join(go_dir(path), member.linkname)
        if not member.linkname.startswith("/") and not _inside(dest, target):
            raise CLIError(f'invalid symlink "{path}" -> "{member.linkname}"')
        os.symlink(member.linkname, path)
        try:
            os.utime(path, (member.mtime, member.mtime), follow_symlinks=False)
        except OSError:
            pass
        return
    elif member.islnk():
        target = go_join(dest, member.linkname)
        real_target = os.path.realpath(target)
        if not _inside(dest, target) or not _inside(real_dest, real_target):
            raise CLIError(f'invalid hardlink "{target}" -> "{member.linkname}"')
        os.link(target, path, follow_symlinks=False)
        return
    elif member.isfifo():
        os.mkfifo(path, mode)
    else:
        return  # device nodes from a container are never created on the host
    os.utime(path, (member.mtime, member.mtime), follow_symlinks=False)


def stat_mode_is_dir(path_stat: Any) -> bool:
    return bool(isinstance(path_stat, dict) and int(path_stat.get("mode") or 0) & MODE_DIR)
