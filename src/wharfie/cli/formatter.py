"""docker's formatter package: ``--format`` handling, tables, human units and times.

``render(format, rows, header)`` follows ``formatter.Context.Write``: ``table``
formats get a header row rendered from the header map and go through the
tabwriter (minwidth 10, padding 3); ``json`` means ``{{json .}}``; literal ``\\t``
and ``\\n`` in the format become a tab and a newline.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from wharfie.cli.command import CLIError
from wharfie.units import (  # noqa: F401  (re-exported for the commands)
    bytes_size,
    human_duration,
    human_size,
    human_size_with_precision,
)

TABLE = "table"
JSON_FORMAT = "{{json .}}"

def since(unix: float, now: float | None = None) -> str:
    """``"<HumanDuration> ago"`` for a unix timestamp."""
    now = time.time() if now is None else now
    return human_duration(now - unix) + " ago"


def _local(unix: float) -> Any:
    import datetime

    return datetime.datetime.fromtimestamp(unix).astimezone()


def _zone_offset(dt: Any, colon: bool) -> str:
    off = dt.utcoffset()
    total = int(off.total_seconds()) if off is not None else 0
    sign = "+" if total >= 0 else "-"
    total = abs(total)
    hh, mm = divmod(total // 60, 60)
    return f"{sign}{hh:02d}:{mm:02d}" if colon else f"{sign}{hh:02d}{mm:02d}"


def go_time_string(unix: int) -> str:
    """Go's ``time.Time.String()`` in local time: ``2024-01-02 15:04:05 +0000 UTC``."""
    dt = _local(unix)
    name = dt.tzname() or _zone_offset(dt, False)
    if name.startswith(("+", "-")) and name == _zone_offset(dt, True):
        name = _zone_offset(dt, False)
    return dt.strftime("%Y-%m-%d %H:%M:%S ") + _zone_offset(dt, False) + " " + name


def rfc3339(unix: int) -> str:
    """Go's ``time.RFC3339`` in local time (``Z`` for UTC)."""
    dt = _local(unix)
    off = _zone_offset(dt, True)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + ("Z" if off == "+00:00" else off)


def rfc3339_nano_fixed(unix_nano: int) -> str:
    """``2006-01-02T15:04:05.000000000Z07:00`` in local time."""
    secs, nanos = divmod(unix_nano, 1_000_000_000)
    dt = _local(secs)
    off = _zone_offset(dt, True)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos:09d}" + ("Z" if off == "+00:00" else off)


def truncate_id(image_id: str) -> str:
    """``stringid.TruncateID``: drop the algorithm prefix, keep 12 characters."""
    if ":" in image_id:
        image_id = image_id.split(":", 1)[1]
    return image_id[:12]


def ellipsis(s: str, max_width: int) -> str:
    """``formatter.Ellipsis``: fit ``s`` in ``max_width`` display columns with ``…``."""
    from wharfie.cli.tabwriter import text_width

    if max_width <= 0:
        return ""
    if max_width == 1:
        return s[:1]
    if s.isascii():
        if len(s) <= max_width:
            return s
        return s[: max_width - 1] + "…"
    if text_width(s) <= max_width:
        return s
    total = 0
    for i, c in enumerate(s):
        cw = text_width(c)
        if total + cw > max_width - 1:
            return s[:i] + "…"
        total += cw
    return s


# ----------------------------------------------------------------------------
# Context.Write


def is_table(fmt: str) -> bool:
    return fmt.startswith(TABLE)


def final_format(fmt: str) -> str:
    if fmt.startswith(TABLE):
        fmt = fmt[len(TABLE):]
    elif fmt == "json":
        fmt = JSON_FORMAT
    fmt = fmt.strip(" ")
    return fmt.replace("\\t", "\t").replace("\\n", "\n")


def parse_format(fmt: str, name: str = "") -> Any:
    from wharfie.cli import gotemplate

    try:
        return gotemplate.parse(fmt, name)
    except gotemplate.TemplateError as e:
        raise CLIError(f"template parsing error: {e}") from None


def header_label(name: Any = "") -> str:
    """``SubHeaderContext.Label``: the last dotted part, ``-``/``_`` as spaces."""
    return str(name).split(".")[-1].replace("-", " ").replace("_", " ")


def header_context(header: Mapping[str, str]) -> Any:
    from wharfie.cli.gotemplate import HeaderMap

    return HeaderMap(header, {"Label": header_label})


def render(fmt: str, rows: Iterable[Any], header: Mapping[str, str] | None = None) -> str:
    """Render rows like docker's ``formatter.Context.Write`` and return the text."""
    from wharfie.cli import gotemplate

    tmpl = parse_format(final_format(fmt))
    buf: list[str] = []
    for row in rows:
        try:
            buf.append(tmpl.execute(row))
        except gotemplate.TemplateError as e:
            raise CLIError(f"template parsing error: {e}") from None
        buf.append("\n")
    if not is_table(fmt):
        return "".join(buf)
    partial: list[str] = []
    try:
        head = tmpl.execute(header_context(header or {}), funcs=gotemplate.HEADER_FUNCS,
                            partial=partial)
    except gotemplate.TemplateError:
        head = "".join(partial)
    from wharfie.cli.tabwriter import tabwrite

    return tabwrite(head + "\n" + "".join(buf))
