"""Layer compression: sniff the codec from magic bytes, stream-decompress, gzip for pushes.

Registries serve layers gzip- (Docker schema 2), zstd- (OCI) or, rarely, un-compressed;
`docker load` archives may also hold bzip2 or xz tars. Everything here streams: nothing
seeks, nothing holds a whole layer in memory. Codecs are imported only when a stream
needs them, so importing this module stays cheap.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any, BinaryIO, cast

from wharfie.errors import InvalidArgument

# Enough bytes to tell every supported codec apart (bzip2 needs its block magic at 4..10).
SNIFF_LEN = 10
_CHUNK = 1 << 20


def detect(head: bytes) -> str:
    """Name the codec of a stream starting with `head`: gzip, zstd, bzip2, xz or none."""
    if head[:3] == b"\x1f\x8b\x08":
        return "gzip"
    if head[:4] == b"\x28\xb5\x2f\xfd" or _is_zstd_skippable(head):
        return "zstd"
    # "BZh" alone could begin a tar member name; the level digit and block magic cannot.
    if head[:3] == b"BZh" and head[3:4].isdigit() and head[4:10] in (
        b"1AY&SY",  # first block
        b"\x17\x72\x45\x38\x50\x90",  # end of stream (empty input)
    ):
        return "bzip2"
    if head[:6] == b"\xfd7zXZ\x00":
        return "xz"
    return "none"


def _is_zstd_skippable(head: bytes) -> bool:
    # Skippable frames (magic 0x184D2A50..5F, little-endian) may precede the data frame.
    return len(head) >= 4 and head[1:4] == b"\x2a\x4d\x18" and head[0] & 0xF0 == 0x50


class _Prefixed(io.RawIOBase):
    """Replays the sniffed head, then reads on from the source: a peek without seek."""

    def __init__(self, head: bytes, src: BinaryIO) -> None:
        self._head = memoryview(head)
        self._src = src

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            head, self._head = bytes(self._head), memoryview(b"")
            return head + self._src.read()
        if self._head:
            out = bytes(self._head[:size])
            self._head = self._head[size:]
            return out
        return self._src.read(size)

    def readinto(self, buf: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buf))
        buf[: len(data)] = data
        return len(data)


class _Decoded(io.RawIOBase):
    """Decompressed bytes; a corrupt stream surfaces as InvalidArgument, not a codec error."""

    def __init__(self, inner: BinaryIO, codec: str, errors: tuple[type[BaseException], ...]):
        self._inner = inner
        self._codec = codec
        self._errors = errors

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        try:
            return self._inner.read(-1 if size is None else size)
        except self._errors as e:
            raise InvalidArgument(f"corrupt {self._codec} layer: {e}") from e

    def readinto(self, buf: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buf))
        buf[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._inner.close()
        super().close()


def _open_gzip(src: BinaryIO) -> tuple[BinaryIO, tuple[type[BaseException], ...]]:
    import gzip
    import zlib

    try:
        from isal import igzip, isal_zlib
    except ImportError:
        # GzipFile reads every concatenated member, as `gzip -d` does.
        return cast(BinaryIO, gzip.GzipFile(fileobj=src, mode="rb")), (
            EOFError,
            gzip.BadGzipFile,
            zlib.error,
        )
    errors = (EOFError, gzip.BadGzipFile, cast(type[Exception], isal_zlib.error), zlib.error)
    return cast(BinaryIO, igzip.IGzipFile(fileobj=src, mode="rb")), errors


class _ZstdFrames:
    """Follows zstd frame and block headers in the compressed bytes as they are read.

    python-zstandard's stream reader ends silently when its input stops mid-frame; this
    tracker raises EOFError instead, so a truncated zstd layer is an error, as a
    truncated gzip one is.
    """

    def __init__(self, src: BinaryIO) -> None:
        self._src = src
        self._state = "magic"
        self._acc = bytearray()
        self._need = 4  # bytes still wanted by the current state
        self._checksum = False

    def read(self, size: int = -1) -> bytes:
        data = self._src.read(size)
        if data:
            self._feed(memoryview(data))
        elif self._state != "magic" or self._acc:
            raise EOFError("zstd stream is truncated mid-frame")
        return data

    def _feed(self, data: memoryview) -> None:
        while data:
            n = min(self._need, len(data))
            if self._state in ("magic", "skip_size", "fhd", "block"):
                self._acc += data[:n]
            data = data[n:]
            self._need -= n
            if not self._need:
                self._advance()

    def _advance(self) -> None:
        acc, self._acc = bytes(self._acc), bytearray()
        state = self._state
        if state == "magic":
            if acc == b"\x28\xb5\x2f\xfd":
                self._go("fhd", 1)
            elif acc[1:] == b"\x2a\x4d\x18" and acc[0] & 0xF0 == 0x50:
                self._go("skip_size", 4)
            else:
                raise EOFError("not a zstd frame")  # garbage between or after frames
        elif state == "skip_size":
            self._go("skip", int.from_bytes(acc, "little"))
        elif state == "fhd":
            fhd = acc[0]
            self._checksum = bool(fhd & 0x04)
            single = bool(fhd & 0x20)
            fcs = (1 if single else 0, 2, 4, 8)[fhd >> 6]
            rest = (0 if single else 1) + (0, 1, 2, 4)[fhd & 0x03] + fcs
            self._go("frame_header", rest)
        elif state == "frame_header":
            self._go("block", 3)
        elif state == "block":
            header = int.from_bytes(acc, "little")
            last, kind, size = header & 1, (header >> 1) & 3, header >> 3
            self._go("last_body" if last else "body", 1 if kind == 1 else size)  # 1: RLE
        elif state == "body":
            self._go("block", 3)
        elif state == "last_body" and self._checksum:
            self._go("checksum", 4)
        else:  # the frame (or skippable frame) is complete
            self._go("magic", 4)

    def _go(self, state: str, need: int) -> None:
        self._state, self._need = state, need
        if not need:
            self._advance()


def _open_zstd(src: BinaryIO) -> tuple[BinaryIO, tuple[type[BaseException], ...]]:
    import zstandard

    # read_across_frames: layers may be several frames (e.g. chunked/seekable zstd).
    # The default window limit (128 MiB) refuses frames that would demand more memory.
    reader = zstandard.ZstdDecompressor().stream_reader(
        cast(BinaryIO, _ZstdFrames(src)), read_size=_CHUNK, read_across_frames=True, closefd=False
    )
    return cast(BinaryIO, reader), (zstandard.ZstdError, EOFError)


def _open_bzip2(src: BinaryIO) -> tuple[BinaryIO, tuple[type[BaseException], ...]]:
    import bz2

    # bz2 reports corrupt data as a bare OSError.
    return cast(BinaryIO, bz2.BZ2File(src, mode="rb")), (OSError, EOFError)


def _open_xz(src: BinaryIO) -> tuple[BinaryIO, tuple[type[BaseException], ...]]:
    import lzma

    return cast(BinaryIO, lzma.LZMAFile(src, mode="rb")), (lzma.LZMAError, EOFError)


_OPENERS: dict[str, Callable[[BinaryIO], tuple[BinaryIO, tuple[type[BaseException], ...]]]] = {
    "gzip": _open_gzip,
    "zstd": _open_zstd,
    "bzip2": _open_bzip2,
    "xz": _open_xz,
}


def _read_head(src: BinaryIO, n: int) -> bytes:
    parts: list[bytes] = []
    got = 0
    while got < n:
        chunk = src.read(n - got)
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


def open_decompressed(fileobj: BinaryIO) -> BinaryIO:
    """Return a stream of `fileobj`'s decompressed bytes, whatever codec it uses.

    Reads `fileobj` strictly forward (a network body works). Closing the returned
    stream does not close `fileobj`.
    """
    head = _read_head(fileobj, SNIFF_LEN)
    src = cast(BinaryIO, _Prefixed(head, fileobj))
    codec = detect(head)
    if codec == "none":
        return src
    inner, errors = _OPENERS[codec](src)
    return cast(BinaryIO, _Decoded(inner, codec, errors))


def gzip_compress_stream(src: BinaryIO, dst: BinaryIO, level: int = 1) -> int:
    """Gzip everything `src` yields into `dst`; return the uncompressed byte count.

    The header carries no name and mtime 0 so equal input gives an equal digest.
    `level` follows isal's 0..3 scale (1 is fast with a fair ratio, as for pushes).
    """
    out: Any
    try:
        from isal import igzip

        out = igzip.IGzipFile(filename="", mode="wb", compresslevel=max(0, min(level, 3)),
                              fileobj=dst, mtime=0)
    except ImportError:
        import gzip

        out = gzip.GzipFile(filename="", mode="wb", compresslevel=max(1, min(level, 9)),
                            fileobj=dst, mtime=0)
    total = 0
    with out:
        while chunk := src.read(_CHUNK):
            out.write(chunk)
            total += len(chunk)
    return total
