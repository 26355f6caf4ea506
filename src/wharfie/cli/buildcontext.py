"""The build context, made and sent the way the docker CLI does it (``docker build``
without BuildKit: ``cli/command/image/build.go``, ``build/context.go``).

A directory context becomes a tar stream: the directory is walked in sorted order
(``wharfie.build.ignore.walk_context``) with the ``.dockerignore`` patterns applied, the
Dockerfile and ``.dockerignore`` always kept; every entry is owned by 0:0, symlinks are
archived as links (never followed), hard links as links to the first name, sockets are
left out. The tar ends with the two zero blocks and no record padding, like Go's writer.

A Dockerfile from stdin (``-f -``) or from outside the context is added to the tar as
``.dockerfile.<20 hex>``, and that name is appended to ``.dockerignore`` so the build
never sees it as a context file. ``PATH`` = ``-`` sends stdin as is when it is an archive
(tar, or gzip/bzip2/xz/zstd-compressed), else wraps it as the tar's ``Dockerfile``.

Every failure is a :class:`~wharfie.cli.command.CLIError` with docker's text.
"""

from __future__ import annotations

import os
import stat
import tarfile
import time
from collections.abc import Callable, Iterable, Iterator
from typing import IO

from wharfie.cli.command import CLIError

DEFAULT_DOCKERFILE = "Dockerfile"
CHUNK = 64 * 1024
_BLOCK = 512
_TRAILER = b"\0" * (2 * _BLOCK)
_CAPABILITY_XATTR = "security.capability"

#: magic numbers of the compressions the daemon accepts (moby archive.DetectCompression)
_COMPRESSED_MAGIC = (b"BZh", b"\x1f\x8b\x08", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd")


class PreparedContext:
    """The request body (chunks of a tar) and the ``dockerfile`` query parameter
    (``""`` lets the daemon use its default)."""

    def __init__(self, chunks: Iterable[bytes], dockerfile: str) -> None:
        self.chunks = chunks
        self.dockerfile = dockerfile


# --- Go-style paths and errors ---------------------------------------------------------

def _reason(e: OSError) -> str:
    text = (e.strerror or str(e)).strip()
    return text[:1].lower() + text[1:]


def _go_quote(s: str) -> str:
    import json

    return json.dumps(s, ensure_ascii=False)


def eval_symlinks(path: str) -> str:
    """Go's ``filepath.EvalSymlinks``; the error names the first missing component."""
    try:
        return os.path.realpath(path, strict=True)
    except OSError as e:
        current = "/"
        for part in os.path.normpath(path).split("/"):
            if not part:
                continue
            current = os.path.join(current, part)
            try:
                os.lstat(current)
            except OSError as inner:
                raise CLIError(f"lstat {current}: {_reason(inner)}") from None
        raise CLIError(_reason(e)) from None


def resolve_context_dir(given: str) -> str:
    """``ResolveAndValidateContextPath``: absolute, symlinks resolved, a directory."""
    absolute = os.path.abspath(given)
    try:
        real = eval_symlinks(absolute)
    except CLIError as e:
        raise CLIError(f"unable to evaluate symlinks in context path: {e}") from None
    try:
        st = os.lstat(real)
    except OSError as e:
        raise CLIError(f'unable to stat context directory "{real}": {_reason(e)}') from None
    if not stat.S_ISDIR(st.st_mode):
        raise CLIError(f"context must be a directory: {real}")
    return real


def dockerfile_rel_path(context_dir: str, given: str) -> str:
    """``getDockerfileRelPath``: ``-f`` is relative to the working directory, the
    default is ``PATH/Dockerfile`` (or ``PATH/dockerfile`` when only that exists).
    The result starts with ``../`` when the Dockerfile is outside the context."""
    if given == "-":
        return given
    if given:
        absolute = os.path.abspath(given)
    else:
        absolute = os.path.join(context_dir, DEFAULT_DOCKERFILE)
        if not os.path.lexists(absolute):
            alt = os.path.join(context_dir, DEFAULT_DOCKERFILE.lower())
            if os.path.lexists(alt):
                absolute = alt
    try:
        absolute = eval_symlinks(absolute)
    except CLIError as e:
        raise CLIError(f"unable to evaluate symlinks in Dockerfile path: {e}") from None
    if not os.path.lexists(absolute):
        raise CLIError(f"Cannot locate Dockerfile: {_go_quote(absolute)}")
    return os.path.relpath(absolute, context_dir)


# --- tar entries --------------------------------------------------------------------

def _header(info: tarfile.TarInfo) -> bytes:
    """One tar header (PAX records only when needed), byte for byte as Go's Writer
    writes it: Python leaves the device numbers of a non-device entry blank, Go writes
    them as octal zeros, so those two fields and the checksum are redone."""
    buf = bytearray(info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape"))
    h = len(buf) - _BLOCK
    if not buf[h + 329:h + 345].strip(b"\0"):
        buf[h + 329:h + 345] = b"0000000\0" * 2
        checksum = 256 + sum(buf[h:h + 148]) + sum(buf[h + 156:h + _BLOCK])
        buf[h + 148:h + 156] = b"%06o\0 " % checksum
    return bytes(buf)


def _padding(size: int) -> bytes:
    return b"\0" * (-size % _BLOCK)


def _regular_info(name: str, data: bytes, mode: int, mtime: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    info.mtime = mtime
    info.uname = info.gname = ""
    return info


def _entry_info(rel: str, path: str, st: os.stat_result) -> tarfile.TarInfo | None:
    """The header moby's ``addTarFile`` writes for one entry (owner 0:0, no names);
    None for a socket, which docker leaves out."""
    info = tarfile.TarInfo(rel)
    info.mode = stat.S_IMODE(st.st_mode)
    info.mtime = st.st_mtime_ns // 1_000_000_000
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    mode = st.st_mode
    if stat.S_ISREG(mode):
        info.type = tarfile.REGTYPE
        info.size = st.st_size
    elif stat.S_ISDIR(mode):
        info.type = tarfile.DIRTYPE
    elif stat.S_ISLNK(mode):
        info.type = tarfile.SYMTYPE
        info.linkname = os.readlink(path)
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        info.type = tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE
        info.devmajor = os.major(st.st_rdev)
        info.devminor = os.minor(st.st_rdev)
    elif stat.S_ISFIFO(mode):
        info.type = tarfile.FIFOTYPE
    else:
        return None
    try:
        cap = os.getxattr(path, _CAPABILITY_XATTR, follow_symlinks=False)
    except OSError:
        cap = b""
    if cap:
        info.pax_headers = {"SCHILY.xattr." + _CAPABILITY_XATTR:
                            cap.decode("utf-8", "surrogateescape")}
    return info


def _read_exact(path: str, size: int) -> Iterator[bytes]:
    """The file's bytes, exactly ``size`` of them (the size its header announced)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as e:
        raise CLIError(f"error reading build context: open {path}: {_reason(e)}") from None
    try:
        left = size
        while left:
            data = os.read(fd, min(left, CHUNK))
            if not data:
                raise CLIError(f"error reading build context: {path} changed size while "
                               "it was being sent")
            left -= len(data)
            yield data
    except OSError as e:
        raise CLIError(f"error reading build context: read {path}: {_reason(e)}") from None
    finally:
        os.close(fd)


def _batched(pieces: Iterable[bytes]) -> Iterator[bytes]:
    """Join small pieces into chunks of about :data:`CHUNK` bytes (one HTTP chunk each)."""
    buf = bytearray()
    for piece in pieces:
        if len(piece) >= CHUNK and not buf:
            yield piece
            continue
        buf += piece
        if len(buf) >= CHUNK:
            yield bytes(buf)
            buf.clear()
    if buf:
        yield bytes(buf)


def random_dockerfile_name() -> str:
    """``.dockerfile.`` + 20 random hex digits (``stringid.GenerateRandomID()[:20]``)."""
    return ".dockerfile." + os.urandom(10).hex()


class DirectoryContext:
    """A local directory context: the entries to send, validated like
    ``ValidateContextDirectory`` before anything is sent."""

    def __init__(self, root: str, rel_dockerfile: str, dockerfile_from_stdin: bool) -> None:
        from wharfie.build.ignore import PatternMatcher, keep_build_files, read_ignore
        from wharfie.errors import InvalidArgument

        self.root = root
        try:
            with open(os.path.join(root, ".dockerignore"), "rb") as f:
                ignore_data = f.read()
        except FileNotFoundError:
            ignore_data = None
        except OSError as e:
            raise CLIError(f"open {os.path.join(root, '.dockerignore')}: {_reason(e)}") from None
        try:
            excludes = read_ignore(ignore_data) if ignore_data is not None else []
            excludes = keep_build_files(excludes, None if dockerfile_from_stdin else rel_dockerfile)
            self.matcher = PatternMatcher(excludes)
        except InvalidArgument as e:
            raise CLIError(f"error checking context: {e}") from None
        self.entries = self._collect()

    def _collect(self) -> list[tuple[str, os.stat_result]]:
        from wharfie.build.ignore import walk_context
        from wharfie.errors import InvalidArgument

        out = []
        try:
            for rel in walk_context(self.root, self.matcher):
                path = os.path.join(self.root, rel)
                try:
                    st = os.lstat(path)
                except FileNotFoundError:
                    raise CLIError(f"error checking context: file ('{path}') not found or "
                                   "excluded by .dockerignore") from None
                except OSError:
                    raise CLIError(f"error checking context: can't stat '{path}'") from None
                if stat.S_ISREG(st.st_mode):
                    try:
                        os.close(os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC))
                    except PermissionError:
                        raise CLIError(f"error checking context: no permission to read from "
                                       f"'{path}'") from None
                    except OSError:
                        pass
                out.append((rel, st))
        except InvalidArgument as e:
            raise CLIError(str(e)) from None
        return out

    def tar(self, extra_dockerfile: bytes | None = None) -> tuple[Iterator[bytes], str]:
        """The tar stream, and the name of the added Dockerfile (``""`` if none)."""
        name = random_dockerfile_name() if extra_dockerfile is not None else ""
        return _batched(self._pieces(extra_dockerfile, name)), name

    def _pieces(self, extra_dockerfile: bytes | None, name: str) -> Iterator[bytes]:
        seen: dict[tuple[int, int], str] = {}
        ignore_replaced = False
        now = round(time.time())
        for rel, st in self.entries:
            path = os.path.join(self.root, rel)
            try:
                info = _entry_info(rel, path, st)
            except OSError as e:
                raise CLIError(f"error reading build context: {path}: {_reason(e)}") from None
            if info is None:
                continue  # a socket: docker logs "Can't add file" and goes on
            if not stat.S_ISDIR(st.st_mode) and st.st_nlink > 1:
                key = (st.st_dev, st.st_ino)
                first = seen.get(key)
                if first is None:
                    seen[key] = rel
                else:
                    info.type, info.linkname, info.size = tarfile.LNKTYPE, first, 0
            if name and rel == ".dockerignore" and info.type == tarfile.REGTYPE:
                data = b"".join(_read_exact(path, info.size)) + f"\n{name}\n".encode()
                info.size = len(data)
                yield _header(info) + data + _padding(len(data))
                ignore_replaced = True
                continue
            yield _header(info)
            if info.type == tarfile.REGTYPE and info.size:
                yield from _read_exact(path, info.size)
                yield _padding(info.size)
        if extra_dockerfile is not None:
            yield _header(_regular_info(name, extra_dockerfile, 0o600, now))
            yield extra_dockerfile + _padding(len(extra_dockerfile))
            if not ignore_replaced:
                data = f".dockerignore\n{name}\n".encode()
                yield _header(_regular_info(".dockerignore", data, 0o600, now)) + data
                yield _padding(len(data))
        yield _TRAILER


def single_file_tar(name: str, data: bytes, mode: int = 0o644) -> bytes:
    """A tar holding one file (the context of ``docker build - < Dockerfile``)."""
    info = _regular_info(name, data, mode, round(time.time()))
    return _header(info) + data + _padding(len(data)) + _TRAILER


# --- stdin ----------------------------------------------------------------------------

def is_archive(head: bytes) -> bool:
    """``build.IsArchive``: compressed, or the first block is a valid tar header."""
    if head.startswith(_COMPRESSED_MAGIC):
        return True
    if len(head) >= 4 and head[1:4] == b"\x2a\x4d\x18" and head[0] & 0xF0 == 0x50:
        return True  # a zstd skippable frame
    try:
        tarfile.TarInfo.frombuf(head[:_BLOCK], "utf-8", "surrogateescape")
    except tarfile.HeaderError:
        return False
    return True


def _read_up_to(stream: IO[bytes], n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        data = stream.read(n - len(buf))
        if not data:
            break
        buf += data
    return buf


def _stream_rest(head: bytes, stream: IO[bytes]) -> Iterator[bytes]:
    if head:
        yield head
    read = getattr(stream, "read1", stream.read)
    while True:
        data = read(CHUNK)
        if not data:
            return
        yield data


def context_from_stdin(stdin: IO[bytes], dockerfile_flag: str) -> PreparedContext:
    """``GetContextFromReader``: an archive is sent as is; anything else is the
    Dockerfile, wrapped in a tar."""
    try:
        head = _read_up_to(stdin, 2 * _BLOCK)
    except OSError as e:
        raise CLIError(f"unable to prepare context: failed to peek context header from "
                       f"STDIN: {_reason(e)}") from None
    if is_archive(head):
        return PreparedContext(_stream_rest(head, stdin), dockerfile_flag)
    if dockerfile_flag == "-":
        raise CLIError("unable to prepare context: build context is not an archive")
    if dockerfile_flag:
        raise CLIError("unable to prepare context: ambiguous Dockerfile source: both stdin "
                       "and flag correspond to Dockerfiles")
    data = head + stdin.read()
    return PreparedContext([single_file_tar(DEFAULT_DOCKERFILE, data)], DEFAULT_DOCKERFILE)


def context_from_directory(given: str, dockerfile_flag: str,
                           stdin: IO[bytes] | None) -> PreparedContext:
    """A local directory; ``stdin`` is read as the Dockerfile when ``-f -``."""
    try:
        root = resolve_context_dir(given)
        rel = dockerfile_rel_path(root, dockerfile_flag)
    except CLIError as e:
        raise CLIError(f"unable to prepare context: {e}") from None
    from_stdin = dockerfile_flag == "-"
    outside = rel.startswith("../")
    extra: bytes | None = None
    if from_stdin:
        assert stdin is not None
        extra = stdin.read()
    elif outside:
        try:
            with open(dockerfile_flag, "rb") as f:
                extra = f.read()
        except OSError as e:
            raise CLIError(f"unable to open Dockerfile: open {dockerfile_flag}: "
                           f"{_reason(e)}") from None
    context = DirectoryContext(root, rel, from_stdin)
    chunks, added = context.tar(extra)
    return PreparedContext(chunks, added or rel)


def gzip_chunks(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """``--compress``: the stream gzip-compressed (the daemon sniffs it)."""
    import zlib

    z = zlib.compressobj(6, zlib.DEFLATED, 31)
    for chunk in chunks:
        out = z.compress(chunk)
        if out:
            yield out
    yield z.flush()


def counted(chunks: Iterable[bytes], on_bytes: Callable[[int], None]) -> Iterator[bytes]:
    """Report the running total of bytes sent."""
    total = 0
    for chunk in chunks:
        total += len(chunk)
        on_bytes(total)
        yield chunk
