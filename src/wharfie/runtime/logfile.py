"""Docker's json-file log format: one JSON object per line, rotated by size.

    {"log":"hello\\n","stream":"stdout","time":"2024-05-01T10:00:00.123456789Z"}

The shim writes (`LogWriter`, stdlib only: the shim stays small); the daemon reads
(`read_entries`), across rotated files `<path>.N` … `<path>.1`, `<path>` (oldest first).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass

DEFAULT_MAX_SIZE = 10 << 20
DEFAULT_MAX_FILE = 3
MAX_LINE = 16 << 10  # Docker splits lines longer than this into partial messages


def rfc3339nano(ns: int) -> str:
    secs, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{frac:09d}Z"


def parse_rfc3339nano(s: str) -> int:
    """The inverse of rfc3339nano (also accepts fewer fraction digits); returns ns."""
    head, _, frac = s.rstrip("Z").partition(".")
    import calendar

    secs = calendar.timegm(time.strptime(head, "%Y-%m-%dT%H:%M:%S"))
    return secs * 1_000_000_000 + int((frac + "000000000")[:9] or 0)


def parse_size(value: str) -> int:
    """Docker's log-opt sizes: 10m, 1g, 512k, plain bytes."""
    v = value.strip().lower()
    mult = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    if v and v[-1] in mult:
        return int(float(v[:-1]) * mult[v[-1]])
    if v.endswith("b") and v[-2:-1] in mult:
        return int(float(v[:-2]) * mult[v[-2]])
    return int(v)


class NoLog:
    """The `none` log driver: output goes to attached clients only."""

    def write(self, stream: str, data: bytes) -> None:
        pass

    def flush_partial(self) -> None:
        pass

    def close(self) -> None:
        pass


class LogWriter:
    """Appends entries; rotates when the file would exceed max_size."""

    def __init__(self, path: str, max_size: int = DEFAULT_MAX_SIZE, max_file: int = DEFAULT_MAX_FILE) -> None:
        self.path, self.max_size, self.max_file = path, max_size, max(1, max_file)
        self.fh = open(path, "ab", buffering=0)
        self.size = self.fh.tell()
        self.partial: dict[str, bytes] = {"stdout": b"", "stderr": b""}

    def write(self, stream: str, data: bytes) -> None:
        """Log `data` from `stream`, one entry per complete line (partials held back)."""
        buf = self.partial[stream] + data
        while True:
            nl = buf.find(b"\n")
            if nl < 0:
                break
            self._entry(stream, buf[: nl + 1])
            buf = buf[nl + 1:]
        while len(buf) >= MAX_LINE:
            self._entry(stream, buf[:MAX_LINE])
            buf = buf[MAX_LINE:]
        self.partial[stream] = buf

    def flush_partial(self) -> None:
        for stream, buf in self.partial.items():
            if buf:
                self._entry(stream, buf)
                self.partial[stream] = b""

    def _entry(self, stream: str, line: bytes) -> None:
        rec = json.dumps({"log": line.decode("utf-8", "replace"), "stream": stream,
                          "time": rfc3339nano(time.time_ns())}, separators=(",", ":")).encode() + b"\n"
        if self.max_size and self.size + len(rec) > self.max_size and self.size > 0:
            self._rotate()
        self.fh.write(rec)
        self.size += len(rec)

    def _rotate(self) -> None:
        self.fh.close()
        if self.max_file <= 1:
            os.truncate(self.path, 0)
        else:
            for i in range(self.max_file - 1, 0, -1):
                src = self.path if i == 1 else f"{self.path}.{i - 1}"
                if os.path.exists(src):
                    os.replace(src, f"{self.path}.{i}")
        self.fh = open(self.path, "ab", buffering=0)
        self.size = 0

    def close(self) -> None:
        self.flush_partial()
        self.fh.close()


@dataclass
class Entry:
    stream: str
    data: bytes
    time_ns: int
    time: str


def log_files(path: str) -> list[str]:
    """Rotated files oldest first, then the live one."""
    rotated = []
    i = 1
    while os.path.exists(f"{path}.{i}"):
        rotated.append(f"{path}.{i}")
        i += 1
    return list(reversed(rotated)) + ([path] if os.path.exists(path) else [])


def parse_line(line: bytes) -> Entry | None:
    try:
        rec = json.loads(line)
        return Entry(rec["stream"], rec["log"].encode(), parse_rfc3339nano(rec["time"]), rec["time"])
    except (ValueError, KeyError, TypeError):
        return None  # a torn last line (crash mid-write) is skipped, not fatal


def read_entries(path: str, live_limit: int | None = None) -> Iterator[Entry]:
    """Entries oldest first; the live file is read only up to `live_limit` bytes when given
    (so a follower can continue exactly there)."""
    for f in log_files(path):
        try:
            with open(f, "rb") as fh:
                data = fh.read(live_limit) if (f == path and live_limit is not None) else fh.read()
                for line in data.splitlines(keepends=True):
                    if not line.endswith(b"\n"):
                        break  # a line still being written: the follower picks it up
                    entry = parse_line(line)
                    if entry is not None:
                        yield entry
        except FileNotFoundError:
            continue  # rotated away while reading
