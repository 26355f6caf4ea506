"""Codec sniffing and streaming decompression of layer blobs."""

import bz2
import gzip
import io
import lzma
import os
import tarfile

import pytest
import zstandard

from wharfie.archive.compression import detect, gzip_compress_stream, open_decompressed
from wharfie.errors import InvalidArgument

PAYLOAD = os.urandom(4096) * 64 + b"tail"


class OneWay(io.RawIOBase):
    """A forward-only stream (like a network body) that hands out small, uneven reads."""

    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readinto(self, b):  # type: ignore[no-untyped-def]
        n = min(len(b), 3, len(self._data))  # tiny reads exercise the sniff buffer
        b[:n] = self._data[:n]
        self._data = self._data[n:]
        return n


def _zstd(data: bytes) -> bytes:
    return zstandard.ZstdCompressor().compress(data)


def _zstd_unsized(data: bytes) -> bytes:
    out = io.BytesIO()
    with zstandard.ZstdCompressor().stream_writer(out, closefd=False) as w:  # no content size
        w.write(data)
    return out.getvalue()


CODECS = {
    "gzip": gzip.compress,
    "zstd": _zstd,
    "bzip2": bz2.compress,
    "xz": lzma.compress,
    "none": lambda d: d,
}


@pytest.mark.parametrize("codec", sorted(CODECS))
def test_detect_names_each_codec(codec: str) -> None:
    assert detect(CODECS[codec](PAYLOAD)[:10]) == codec


@pytest.mark.parametrize("head", [b"", b"\x1f", b"BZh", b"BZh9 not a bzip2", b"\x28\xb5", b"ustar"])
def test_detect_short_or_lookalike_heads_are_none(head: bytes) -> None:
    assert detect(head) == "none"


def test_detect_tar_whose_first_member_name_starts_with_bzh() -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        tf.addfile(tarfile.TarInfo("BZh9_notes.txt"))
    assert detect(buf.getvalue()[:10]) == "none"


def test_detect_zstd_skippable_frame_first() -> None:
    skippable = b"\x50\x2a\x4d\x18" + (4).to_bytes(4, "little") + b"meta"
    assert detect(skippable + _zstd(PAYLOAD)) == "zstd"
    assert open_decompressed(io.BytesIO(skippable + _zstd(PAYLOAD))).read() == PAYLOAD


@pytest.mark.parametrize("codec", sorted(CODECS))
def test_open_decompressed_roundtrip_forward_only(codec: str) -> None:
    stream = open_decompressed(OneWay(CODECS[codec](PAYLOAD)))  # type: ignore[arg-type]
    assert stream.read() == PAYLOAD


def test_zstd_frame_without_content_size() -> None:
    assert open_decompressed(io.BytesIO(_zstd_unsized(PAYLOAD))).read() == PAYLOAD


def test_zstd_concatenated_frames() -> None:
    assert open_decompressed(io.BytesIO(_zstd(b"abc") + _zstd(b"def"))).read() == b"abcdef"


def test_gzip_concatenated_members() -> None:
    blob = gzip.compress(b"first-") + gzip.compress(b"second-") + gzip.compress(PAYLOAD)
    assert open_decompressed(io.BytesIO(blob)).read() == b"first-second-" + PAYLOAD


def test_gzip_empty_member() -> None:
    assert open_decompressed(io.BytesIO(gzip.compress(b""))).read() == b""


def test_empty_input_is_an_empty_uncompressed_stream() -> None:
    assert open_decompressed(io.BytesIO(b"")).read() == b""


@pytest.mark.parametrize("codec", ["gzip", "zstd", "bzip2", "xz"])
def test_truncated_stream_is_invalid_argument(codec: str) -> None:
    blob = CODECS[codec](PAYLOAD)
    with pytest.raises(InvalidArgument, match=f"corrupt {codec}"):
        open_decompressed(io.BytesIO(blob[: len(blob) // 2])).read()


def test_corrupt_gzip_body_is_invalid_argument() -> None:
    blob = bytearray(gzip.compress(PAYLOAD))
    blob[20:40] = b"\xff" * 20
    with pytest.raises(InvalidArgument):
        open_decompressed(io.BytesIO(bytes(blob))).read()


def test_decompressed_stream_reads_in_chunks() -> None:
    stream = open_decompressed(io.BytesIO(gzip.compress(PAYLOAD)))
    parts = []
    while chunk := stream.read(1000):
        parts.append(chunk)
    assert b"".join(parts) == PAYLOAD


def test_gzip_compress_stream_is_deterministic_and_roundtrips() -> None:
    a, b = io.BytesIO(), io.BytesIO()
    assert gzip_compress_stream(io.BytesIO(PAYLOAD), a) == len(PAYLOAD)
    gzip_compress_stream(io.BytesIO(PAYLOAD), b)
    assert a.getvalue() == b.getvalue()  # no timestamp or name in the header
    assert a.getvalue()[4:8] == b"\0\0\0\0"  # mtime 0
    assert gzip.decompress(a.getvalue()) == PAYLOAD
    assert open_decompressed(io.BytesIO(a.getvalue())).read() == PAYLOAD


@pytest.mark.parametrize("checksum", [True, False])
def test_zstd_truncation_anywhere_is_detected(checksum: bool) -> None:
    data = b"rle" + bytes(300_000) + os.urandom(50_000)  # raw, RLE and compressed blocks
    blob = zstandard.ZstdCompressor(write_checksum=checksum).compress(data)
    blob += _zstd_unsized(b"second frame")
    for cut in sorted({4, 5, 6, 9, 12, len(blob) // 3, len(blob) // 2, len(blob) - 5, len(blob) - 1}):
        with pytest.raises(InvalidArgument, match="corrupt zstd"):
            open_decompressed(io.BytesIO(blob[:cut])).read()
    assert open_decompressed(io.BytesIO(blob)).read() == data + b"second frame"


def test_zstd_trailing_garbage_is_detected() -> None:
    with pytest.raises(InvalidArgument, match="corrupt zstd"):
        open_decompressed(io.BytesIO(_zstd(PAYLOAD) + b"garbage!")).read()
