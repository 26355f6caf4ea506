"""JSON the way Go's encoding/json writes it, and JSON-lines stream decoding."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

_HTML_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028",
                 "\u2029": "\\u2029"}


def go_json_compact(obj: Any, escape_html: bool = True) -> str:
    """``json.Marshal``: compact, UTF-8, ``<>&`` escaped (dict order is kept)."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    if escape_html:
        # These characters can only occur inside strings in JSON text.
        for c, esc in _HTML_ESCAPES.items():
            if c in text:
                text = text.replace(c, esc)
    return text


def iter_json_values(chunks: Iterable[bytes]) -> Iterator[Any]:
    """Yield each JSON value of a stream of concatenated / newline-separated JSON."""
    decoder = json.JSONDecoder()
    buf = b""
    for chunk in chunks:
        buf += chunk
        while True:
            nl = buf.find(b"\n")
            if nl < 0:
                break
            line, buf = buf[:nl], buf[nl + 1 :]
            yield from _decode_all(decoder, line.decode(errors="replace"))
    if buf.strip():
        yield from _decode_all(decoder, buf.decode(errors="replace"))


def _decode_all(decoder: json.JSONDecoder, text: str) -> Iterator[Any]:
    pos = 0
    n = len(text)
    while True:
        while pos < n and text[pos] in " \t\r\n":
            pos += 1
        if pos >= n:
            return
        value, pos = decoder.raw_decode(text, pos)
        yield value


def _scan(raw: str) -> Iterator[tuple[str, str]]:
    """Yield (kind, text) tokens of JSON text: 'str', 'punct' or 'lit'; skip space."""
    i = 0
    n = len(raw)
    while i < n:
        c = raw[i]
        if c in " \t\r\n":
            i += 1
            continue
        if c == '"':
            j = i + 1
            while j < n:
                if raw[j] == "\\":
                    j += 2
                    continue
                if raw[j] == '"':
                    break
                j += 1
            yield "str", raw[i : j + 1]
            i = j + 1
            continue
        if c in "{}[],:":
            yield "punct", c
            i += 1
            continue
        j = i
        while j < n and raw[j] not in " \t\r\n{}[],:\"":
            j += 1
        yield "lit", raw[i:j]
        i = j


def indent_raw(raw: str, indent: str = "    ", prefix: str = "") -> str:
    """Go's ``json.Indent``: re-indent JSON text without re-encoding its values.

    Empty objects and arrays stay ``{}``/``[]``; a space follows each colon.
    Leading whitespace is dropped, trailing whitespace is kept.
    """
    out: list[str] = []
    depth = 0
    need_indent = False
    stripped = raw.rstrip(" \t\r\n")
    trailing = raw[len(stripped) :]
    for kind, tok in _scan(stripped):
        if need_indent and not (kind == "punct" and tok in "]}"):
            need_indent = False
            depth += 1
            out.append("\n" + prefix + indent * depth)
        if kind != "punct":
            out.append(tok)
            continue
        if tok in "{[":
            need_indent = True
            out.append(tok)
        elif tok == ",":
            out.append(",\n" + prefix + indent * depth)
        elif tok == ":":
            out.append(": ")
        else:  # } or ]
            if need_indent:
                need_indent = False
            else:
                depth -= 1
                out.append("\n" + prefix + indent * depth)
            out.append(tok)
    return "".join(out) + trailing


def compact_raw(raw: str) -> str:
    """Go's ``json.Compact``: drop insignificant whitespace."""
    return "".join(tok for _kind, tok in _scan(raw))
