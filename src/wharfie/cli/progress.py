"""Display of JSON-message streams (pull/push/load/import/build), like docker's
``jsonmessage.DisplayJSONMessagesStream``.

On a terminal, lines carrying progress for an ``id`` are redrawn in place; otherwise
progress bars are suppressed and every status becomes its own line. An in-band
``errorDetail`` ends the display with :class:`~wharfie.client.errors.StreamError`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import IO, Any

from wharfie.client.errors import StreamError


def _progress_string(p: dict[str, Any], width: int) -> str:
    from wharfie.cli.formatter import human_size

    current = int(p.get("current") or 0)
    total = int(p.get("total") or 0)
    units = p.get("units") or ""
    if current <= 0 and total <= 0:
        return ""
    if total <= 0:
        if not units:
            return f"{human_size(current):>8}"
        return f"{current} {units}"
    percentage = min(int(current / total * 100) // 2, 50)
    bar = ""
    if width > 110:
        bar = "[" + "=" * percentage + ">" + " " * max(50 - percentage, 0) + "] "
    numbers = ""
    if p.get("hidecounts"):
        pass
    elif not units:
        numbers = f"{human_size(current):>8}/{human_size(total)}"
        if current > total:
            numbers = f"{human_size(current):>8}"
    else:
        numbers = f"{current}/{total} {units}"
        if current > total:
            numbers = f"{current} {units}"
    left = ""
    start = int(p.get("start") or 0)
    if width > 50 and current > 0 and start > 0 and percentage < 50:
        elapsed = time.time() - start
        remaining = (total - current) * (elapsed / current)
        left = " " + _go_duration(round(remaining))
    return bar + numbers + left


def _go_duration(seconds: int) -> str:
    from wharfie.units import go_duration

    return go_duration(max(seconds, 0) * 10**9)


def _display(msg: dict[str, Any], out: IO[str], is_terminal: bool, width: int) -> None:
    from wharfie.cli.formatter import rfc3339_nano_fixed

    err = msg.get("errorDetail")
    if err:
        code = err.get("code") or 0
        raise StreamError(str(err.get("message", "")), int(code) if isinstance(code, int) else 0)
    progress = msg.get("progressDetail")
    stream = msg.get("stream") or ""
    endl = ""
    if is_terminal and not stream and progress is not None:
        out.write("\x1b[2K\r")
        endl = "\r"
    elif progress is not None and _progress_string(progress, width):
        return
    if msg.get("timeNano"):
        out.write(rfc3339_nano_fixed(int(msg["timeNano"])) + " ")
    elif msg.get("time"):
        out.write(rfc3339_nano_fixed(int(msg["time"]) * 1_000_000_000) + " ")
    if msg.get("id"):
        out.write(f"{msg['id']}: ")
    if msg.get("from"):
        out.write(f"(from {msg['from']}) ")
    status = msg.get("status") or ""
    if progress is not None and is_terminal:
        out.write(f"{status} {_progress_string(progress, width)}{endl}")
    elif msg.get("progress"):
        out.write(f"{status} {msg['progress']}{endl}")
    elif stream:
        out.write(f"{stream}{endl}")
    else:
        out.write(f"{status}{endl}\n")


def display_stream(
    messages: Iterable[Any],
    out: IO[str],
    is_terminal: bool = False,
    aux: Callable[[Any], None] | None = None,
) -> None:
    """Print every message; raise StreamError on an in-band error."""
    width = 200
    if is_terminal:
        try:
            import os

            width = os.get_terminal_size(out.fileno()).columns
        except (OSError, ValueError, AttributeError):
            width = 200
    ids: dict[str, int] = {}
    for msg in messages:
        if not isinstance(msg, dict):
            continue
        if msg.get("aux") is not None:
            if aux is not None:
                aux(msg["aux"])
            continue
        diff = 0
        mid = msg.get("id") or ""
        if mid and (msg.get("progressDetail") is not None or msg.get("progress")):
            line = ids.get(mid)
            if line is None:
                line = len(ids)
                ids[mid] = line
                if is_terminal:
                    out.write("\n")
            diff = len(ids) - line
            if is_terminal and diff:
                out.write(f"\x1b[{diff}A")
        else:
            ids = {}
        try:
            _display(msg, out, is_terminal, width)
        finally:
            if mid and is_terminal and diff:
                out.write(f"\x1b[{diff}B")
        out.flush()
