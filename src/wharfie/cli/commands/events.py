"""``wharfie events`` / ``wharfie system events``: the daemon's event stream."""

from __future__ import annotations

import re
import time
from typing import IO, Any

from wharfie.cli.command import (
    INSPECT_FORMAT_HELP,
    Cli,
    CLIError,
    Command,
    Flag,
    Options,
    StatusError,
)
from wharfie.cli.gotemplate import NIL_MAP, GoStruct

_DURATION_RE = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0,
                 "m": 60.0, "h": 3600.0}


def parse_go_duration(value: str) -> float | None:
    """Go's ``time.ParseDuration`` in seconds, or None if ``value`` is not one."""
    s = value
    sign = 1.0
    if s[:1] in "+-":
        sign = -1.0 if s[0] == "-" else 1.0
        s = s[1:]
    if s == "0":
        return 0.0
    if not s:
        return None
    total = 0.0
    pos = 0
    while pos < len(s):
        m = _DURATION_RE.match(s, pos)
        if not m or m.group(1) in ("", "."):
            return None
        total += float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
        pos = m.end()
    return sign * total


def get_timestamp(value: str, now: float | None = None) -> str:
    """docker's ``timetypes.GetTimestamp``: durations, RFC 3339 dates, unix seconds."""
    import datetime

    now = time.time() if now is None else now
    if value != "0":
        d = parse_go_duration(value)
        if d is not None:
            return str(int(now - d))
    in_location = not any(c in value for c in "zZ+") and value.count("-") != 3
    try:
        text = value
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        if "T" not in text and len(text) >= 10 and not in_location:
            text = text[:10] + "T00:00:00" + text[10:]
        if "." in text:
            head, _, frac = text.partition(".")
            digits = "".join(c for c in frac if c.isdigit())
            nanos = int(digits.ljust(9, "0")[:9]) if digits else 0
            text = head + frac[len(digits):]
        else:
            nanos = 0
        if "T" in text:
            date, _, clock = text.partition("T")
            tz = ""
            for sep in ("+", "-"):
                if sep in clock:
                    clock, _, rest = clock.partition(sep)
                    tz = sep + rest
            parts = clock.split(":")
            while len(parts) < 3:
                parts.append("00")
            text = f"{date}T{':'.join(parts)}{tz}"
        dt = datetime.datetime.fromisoformat(text)
        if dt.tzinfo is None:
            dt = dt.astimezone()
        return f"{int(dt.timestamp())}.{nanos:09d}"
    except ValueError:
        if "-" in value:
            raise CLIError(f'parsing time "{value}": cannot parse "{value}"') from None
        if not re.fullmatch(r"-?\d+(\.\d+)?", value):
            raise CLIError(f'failed to parse value as time or duration: "{value}"') from None
        return value


def event_struct(msg: dict[str, Any]) -> GoStruct:
    """``*events.Message`` for templates: Go field names, the API's JSON names."""
    actor = msg.get("Actor") or {}
    attributes = actor.get("Attributes") if isinstance(actor, dict) else None
    actor_struct = GoStruct(
        "events.Actor",
        {"ID": actor.get("ID", "") if isinstance(actor, dict) else "",
         "Attributes": attributes if isinstance(attributes, dict) else NIL_MAP},
        pointer=False,
    )
    return GoStruct(
        "*events.Message",
        {
            "Status": msg.get("status", ""),
            "ID": msg.get("id", ""),
            "From": msg.get("from", ""),
            "Type": msg.get("Type", ""),
            "Action": msg.get("Action", ""),
            "Actor": actor_struct,
            "Scope": msg.get("scope", ""),
            "Time": int(msg.get("time") or 0),
            "TimeNano": int(msg.get("timeNano") or 0),
        },
        json_names={"Status": "status", "ID": "id", "From": "from", "Scope": "scope",
                    "Time": "time", "TimeNano": "timeNano"},
        omitempty=("Status", "ID", "From", "Time", "TimeNano"),
    )


def pretty_event(msg: dict[str, Any]) -> str:
    from wharfie.cli.formatter import rfc3339_nano_fixed

    out = []
    if msg.get("timeNano"):
        out.append(rfc3339_nano_fixed(int(msg["timeNano"])) + " ")
    elif msg.get("time"):
        out.append(rfc3339_nano_fixed(int(msg["time"]) * 1_000_000_000) + " ")
    actor = msg.get("Actor") or {}
    out.append(f"{msg.get('Type', '')} {msg.get('Action', '')} {actor.get('ID', '')}")
    attrs = actor.get("Attributes") or {}
    if attrs:
        out.append(" (" + ", ".join(f"{k}={attrs[k]}" for k in sorted(attrs)) + ")")
    out.append("\n")
    return "".join(out)


def run_events(cli: Cli, opts: Options, args: list[str]) -> int:
    from wharfie.cli import gotemplate

    fmt = opts.format
    tmpl = None
    if fmt:
        if fmt == "json":
            fmt = "{{json .}}"
        try:
            tmpl = gotemplate.parse(fmt)
            tmpl.execute(event_struct({}))
        except gotemplate.TemplateError as e:
            raise StatusError(64, f"Error parsing format: {e}") from None
    since = get_timestamp(opts.since) if opts.since else None
    until = get_timestamp(opts.until) if opts.until else None
    resp = cli.client.events(since, until, opts.filter)
    out: IO[str] = cli.out
    with resp:
        for msg in resp.iter_json():
            if not isinstance(msg, dict):
                continue
            if tmpl is None:
                out.write(pretty_event(msg))
            else:
                try:
                    out.write(tmpl.execute(event_struct(msg)))
                finally:
                    out.write("\n")
            out.flush()
    return 0


def events_command() -> Command:
    return Command(
        use="events [OPTIONS]",
        short="Get real time events from the server",
        aliases="wharfie system events, wharfie events",
        flags=[
            Flag("since", "", "string", "Show all events created since timestamp"),
            Flag("until", "", "string", "Stream events until this timestamp"),
            Flag("filter", "f", "filter", "Filter output based on conditions provided"),
            Flag("format", "", "string", INSPECT_FORMAT_HELP),
        ],
        args=("none", 0),
        run=run_events,
    )


def system_events_command() -> Command:
    return events_command()
