"""Range (blob reads) and Content-Range (chunk uploads) headers."""

from __future__ import annotations

import re

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)\Z")
# The spec says "<start>-<end>"; docker and some clients send "bytes <start>-<end>/<size|*>".
_CONTENT_RANGE = re.compile(r"^(?:bytes )?(\d+)-(\d+)(?:/(?:\d+|\*))?\Z")


class Unsatisfiable(ValueError):
    """The range lies outside the blob: answer 416."""


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """`Range: bytes=a-b` → inclusive (start, end) within `size`, or None to send everything.

    Only one range is served; a multi-range or malformed header gets the whole blob, which
    RFC 9110 allows (a server may ignore Range).
    """
    m = _RANGE.match(header.strip().replace(" ", ""))
    if not m or (not m.group(1) and not m.group(2)):
        return None
    first, last = m.group(1), m.group(2)
    if not first:  # suffix range: the last N bytes
        n = int(last)
        if n == 0 or size == 0:
            raise Unsatisfiable(header)
        return max(0, size - n), size - 1
    start = int(first)
    end = int(last) if last else size - 1
    if start >= size or end < start:
        raise Unsatisfiable(header)
    return start, min(end, size - 1)


def parse_content_range(header: str) -> tuple[int, int]:
    """`Content-Range: a-b` (inclusive) → (start, end); ValueError when malformed."""
    m = _CONTENT_RANGE.match(header.strip())
    if not m:
        raise ValueError(f"invalid Content-Range {header!r}")
    start, end = int(m.group(1)), int(m.group(2))
    if end < start:
        raise ValueError(f"invalid Content-Range {header!r}")
    return start, end


def upload_range(size: int) -> str:
    """The `Range` header of an upload status: bytes received so far, inclusive ("0-0" if none)."""
    return f"0-{max(size - 1, 0)}"
