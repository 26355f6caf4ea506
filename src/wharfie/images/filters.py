"""Engine API list filters, and the image predicates `GET /images/json` applies.

The `filters` query parameter is JSON: `{"key": {"value": true}}` from current clients, or
`{"key": ["value"]}` from old ones; both decode to `{key: [values]}`. The predicates follow
dockerd: `reference` patterns use Go's `path.Match` against an image's familiar references,
`label` specs are "key" or "key=value", `until` takes Docker's timestamp forms. Filters that
need the image store (`dangling`, `before`, `since`) stay in the image service, which uses
`get_bool` for `dangling`. Pure logic, no I/O.
"""

from __future__ import annotations

import calendar
import json
import math
import re
import time
from collections.abc import Mapping

from wharfie.errors import InvalidArgument
from wharfie.oci.reference import Reference

Filters = dict[str, list[str]]

# The filters `GET /images/json` accepts (dockerd 28).
IMAGE_LIST_FILTERS = frozenset({"dangling", "label", "before", "since", "reference", "until"})


def parse_filters(raw: str | None) -> Filters:
    """Decode the `filters` query parameter; values keep their order, without repeats."""
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: hostile nesting
        raise InvalidArgument("invalid filter") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InvalidArgument("invalid filter")
    if all(_is_value_set(v) for v in data.values()):  # {"key": {"value": true}}
        return {k: list(v or {}) for k, v in data.items()}
    if all(_is_value_list(v) for v in data.values()):  # legacy {"key": ["value"]}
        return {k: list(dict.fromkeys(v or [])) for k, v in data.items()}
    raise InvalidArgument("invalid filter")


def _is_value_set(v: object) -> bool:
    return v is None or (
        isinstance(v, dict) and all(b is None or isinstance(b, bool) for b in v.values())
    )


def _is_value_list(v: object) -> bool:
    return v is None or (isinstance(v, list) and all(isinstance(s, str) for s in v))


def validate(filters: Mapping[str, list[str]], allowed: set[str] | frozenset[str]) -> None:
    """Refuse a filter key the endpoint does not know, with Docker's message."""
    for key in filters:
        if key not in allowed:
            raise InvalidArgument(f"invalid filter '{key}'")


def get_bool(filters: Mapping[str, list[str]], key: str, default: bool = False) -> bool:
    """A boolean filter ("1"/"true", "0"/"false"), like Args.GetBoolOrDefault."""
    if key not in filters:
        return default
    values = set(filters[key])
    if not values:
        raise InvalidArgument(f"invalid filter '{key}'")
    is_true, is_false = bool(values & {"1", "true"}), bool(values & {"0", "false"})
    if is_true == is_false:
        raise InvalidArgument(f"invalid filter '{key}=[{' '.join(filters[key])}]'")
    return is_true


def label_match(labels: Mapping[str, str], spec: str) -> bool:
    """One label spec: "key" (present), "key=value" (equal), "key!=value" (absent or
    different; an extension: dockerd reads "key!" as the key)."""
    key, sep, value = spec.partition("=")
    if sep and key.endswith("!"):
        return labels.get(key[:-1]) != value
    if key not in labels:
        return False
    return not sep or labels[key] == value


def familiar_match(pattern: str, ref: Reference) -> bool:
    """reference.FamiliarMatch: the pattern against "name:tag" (or "name@digest"), then
    against the bare familiar name. A bad pattern raises InvalidArgument."""
    if go_path_match(pattern, ref.familiar()):
        return True
    try:
        return go_path_match(pattern, ref.familiar_name)
    except InvalidArgument:
        return False


# --- Go's path.Match ---------------------------------------------------------------------

_BAD_PATTERN = "syntax error in pattern"


def go_path_match(pattern: str, name: str) -> bool:
    """Go's path.Match: '*' is any run of non-'/' characters, '?' one non-'/' character,
    '[...]' a class ('^' negates, 'a-z' ranges), '\\' escapes. Malformed patterns raise
    InvalidArgument even when the name has already failed to match."""
    while pattern:
        star, chunk, pattern = _scan_chunk(pattern)
        if star and not chunk:
            return "/" not in name  # a trailing '*' takes the rest of this segment
        rest = _match_chunk(chunk, name)
        if rest is not None and (not rest or pattern):
            name = rest
            continue
        if star:
            matched = False
            i = 0
            while i < len(name) and name[i] != "/":
                rest = _match_chunk(chunk, name[i + 1:])
                i += 1
                if rest is not None and not (not pattern and rest):
                    name, matched = rest, True
                    break
            if matched:
                continue
        while pattern:  # no match: the rest of the pattern must still be well formed
            _, chunk, pattern = _scan_chunk(pattern)
            _match_chunk(chunk, "")
        return False
    return not name


def _scan_chunk(pattern: str) -> tuple[bool, str, str]:
    """Split off leading stars and the following star-free chunk."""
    stripped = pattern.lstrip("*")
    star = len(stripped) != len(pattern)
    in_range = False
    i = 0
    while i < len(stripped):
        c = stripped[i]
        if c == "\\":
            i += 1
        elif c == "[":
            in_range = True
        elif c == "]":
            in_range = False
        elif c == "*" and not in_range:
            return star, stripped[:i], stripped[i:]
        i += 1
    return star, stripped, ""


def _match_chunk(chunk: str, s: str) -> str | None:
    """Match a star-free chunk at the start of s; the rest of s, or None. After a
    mismatch the whole chunk is still parsed, so syntax errors always surface."""
    failed = False
    i = 0
    while i < len(chunk):
        if not failed and not s:
            failed = True
        c = chunk[i]
        if c == "[":
            r = ""
            if not failed:
                r, s = s[0], s[1:]
            i += 1
            negated = i < len(chunk) and chunk[i] == "^"
            if negated:
                i += 1
            matched = False
            nrange = 0
            while True:
                if i < len(chunk) and chunk[i] == "]" and nrange > 0:
                    i += 1
                    break
                lo, i = _class_char(chunk, i)
                hi = lo
                if chunk[i] == "-":
                    hi, i = _class_char(chunk, i + 1)
                if not failed and lo <= r <= hi:
                    matched = True
                nrange += 1
            if matched == negated:
                failed = True
        elif c == "?":
            if not failed:
                if s[0] == "/":
                    failed = True
                s = s[1:]
            i += 1
        else:
            if c == "\\":
                i += 1
                if i == len(chunk):
                    raise InvalidArgument(_BAD_PATTERN)
            if not failed:
                if chunk[i] != s[0]:
                    failed = True
                s = s[1:]
            i += 1
    return None if failed else s


def _class_char(chunk: str, i: int) -> tuple[str, int]:
    """One possibly escaped character of a class; something must follow it."""
    if i >= len(chunk) or chunk[i] in "-]":
        raise InvalidArgument(_BAD_PATTERN)
    if chunk[i] == "\\":
        i += 1
        if i >= len(chunk):
            raise InvalidArgument(_BAD_PATTERN)
    if i + 1 >= len(chunk):
        raise InvalidArgument(_BAD_PATTERN)
    return chunk[i], i + 1


# --- Docker timestamps (`until`, and `since`/`until` of logs and events) -------------------

_UNIT_NS = {"ns": 1, "us": 10**3, "µs": 10**3, "μs": 10**3, "ms": 10**6, "s": 10**9,
            "m": 60 * 10**9, "h": 3600 * 10**9}
_DURATION_PART = re.compile(r"([0-9]*)(?:\.([0-9]*))?([^0-9.]*)")
_INT64_MAX = 2**63 - 1
_UNIX = re.compile(r"\+?([0-9]+)(?:\.([0-9]+))?")
_ZONE = r"(Z|[+-][0-9]{2}:[0-9]{2})"
_FRAC = r"(?:[.,]([0-9]+))?"
# Docker's layouts, by how much of the time of day they carry (Go layout text, regex).
_LAYOUTS = [
    ("2006-01-02", r"([0-9]{4})-([0-9]{2})-([0-9]{2})"),
    ("2006-01-02T15", r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{1,2})"),
    ("2006-01-02T15:04", r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{1,2}):([0-9]{2})"),
    ("2006-01-02T15:04:05",
     r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{1,2}):([0-9]{2}):([0-9]{2})" + _FRAC),
]


def parse_until(value: str, now: float) -> float:
    """A Docker timestamp as Unix seconds: a Go duration before `now` ("10m", "1h30m",
    whole seconds, as dockerd), RFC 3339 (with or without fraction, zone, seconds or
    minutes), a date ("2006-01-02", local time of the daemon), or Unix seconds
    ("1136073600.000000001")."""
    if value != "0":
        ns = _go_duration_ns(value)
        if ns is not None:
            return float(math.floor(now - ns / 1e9))
    in_local = not any(c in value for c in "zZ+") and value.count("-") != 3
    if "." in value:
        parts = 3
    elif "T" in value:
        colons = value.count(":")
        if not in_local and not any(c in value for c in "zZ") and colons > 0:
            colons -= 1  # the zone offset's colon
        parts = min(colons + 1, 3)
    else:
        parts = 0
    layout, regex = _LAYOUTS[parts]
    if not in_local:
        layout, regex = layout + "Z07:00", regex + _ZONE
    local_offset = time.localtime(now).tm_gmtoff
    parsed = _parse_time(re.fullmatch(regex, value), parts, in_local, local_offset)
    if isinstance(parsed, float):
        return parsed
    if "-" in value:  # it looked like a date, so the date parser's complaint is the one
        raise InvalidArgument(f'parsing time "{value}" as "{layout}": {parsed}')
    m = _UNIX.fullmatch(value)
    if m is None or int(m.group(1)) > _INT64_MAX or int(m.group(2) or 0) > _INT64_MAX:
        raise InvalidArgument(f'failed to parse value as time or duration: "{value}"')
    return int(m.group(1)) + int((m.group(2) or "0")[:9].ljust(9, "0")) / 1e9


def _parse_time(m: re.Match[str] | None, parts: int, in_local: bool,
                local_offset: int) -> float | str:
    """Seconds since the epoch, or why the text is not a time of that layout."""
    if m is None:
        return "cannot parse"
    g = m.groups()
    nums = [int(x) for x in g[: 3 + parts]]
    year, month, day = nums[:3]
    hour, minute, sec = (nums[3:] + [0, 0, 0])[:3]
    if not 1 <= month <= 12:
        return "month out of range"
    if not 1 <= day <= calendar.monthrange(year, month)[1]:
        return "day out of range"
    if hour > 23 or minute > 59 or sec > 59:
        return "hour, minute or second out of range"
    frac = g[6] if parts == 3 else None
    zone = g[-1]
    if in_local:
        offset = local_offset
    elif zone == "Z":
        offset = 0
    else:
        zh, zm = int(zone[1:3]), int(zone[4:6])
        if zh > 24 or zm > 60:
            return "time zone offset out of range"
        offset = (zh * 3600 + zm * 60) * (-1 if zone[0] == "-" else 1)
    secs = calendar.timegm((year, month, day, hour, minute, sec, 0, 0, 0)) - offset
    return secs + (int(frac[:9].ljust(9, "0")) / 1e9 if frac else 0.0)


def _go_duration_ns(s: str) -> int | None:
    """Go's time.ParseDuration in nanoseconds, or None when s is not a duration."""
    neg = s[:1] == "-"
    if s[:1] in ("-", "+"):
        s = s[1:]
    if s == "0":
        return 0
    if not s:
        return None
    total = 0
    while s:
        m = _DURATION_PART.match(s)
        if m is None:  # pragma: no cover - the pattern matches every string
            return None
        whole, frac, unit = m.group(1), m.group(2), m.group(3)
        if not whole and not frac:
            return None
        if unit not in _UNIT_NS:
            return None
        scale = _UNIT_NS[unit]
        total += int(whole or 0) * scale + (int(frac) * scale // 10 ** len(frac) if frac else 0)
        if total > 2**63:
            return None
        s = s[m.end():]
    if not neg and total > _INT64_MAX:
        return None
    return -total if neg else total
