"""The Go standard-library behaviours the Dockerfile grammar inherits from BuildKit.

BuildKit's parser is Go, and several user-visible results depend on Go's own rules rather
than on anything the Dockerfile reference says: which characters `unicode.IsSpace` treats as
blanks, how `strconv.Quote` renders a string inside an error message, how `time.ParseDuration`
reads `--interval=1m30s`. These are the exact rules, so our messages and splits match.
"""

from __future__ import annotations

# unicode.IsSpace: the Unicode White_Space property (Python's str.isspace() also counts
# U+001C..U+001F, which Go does not).
_SPACES = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_SPACES_STR = "".join(_SPACES)

_C_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r",
              "\t": "\\t", "\v": "\\v"}


def is_space(ch: str) -> bool:
    """Go's unicode.IsSpace for one character."""
    return ch in _SPACES


def trim_space(s: str) -> str:
    """Go's strings.TrimSpace."""
    return s.strip(_SPACES_STR)


def trim_left_space(s: str) -> str:
    """Go's strings.TrimLeftFunc(s, unicode.IsSpace)."""
    return s.lstrip(_SPACES_STR)


def is_escaped_byte(ch: str) -> bool:
    """A byte of invalid UTF-8 that we decoded with `surrogateescape`."""
    return "\udc80" <= ch <= "\udcff"


def runes(s: str) -> str:
    """What Go sees when it decodes `s` rune by rune: invalid bytes become U+FFFD."""
    if not any("\ud800" <= c <= "\udfff" for c in s):
        return s
    return "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in s)


def quote(s: str) -> str:
    """Go's strconv.Quote (the `%q` verb): printable runes kept, the rest escaped."""
    out = ['"']
    for ch in s:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif is_escaped_byte(ch):
            out.append(f"\\x{ord(ch) - 0xDC00:02x}")
        elif "\ud800" <= ch <= "\udfff":
            out.append("\ufffd")
        elif ch.isprintable():
            out.append(ch)
        elif ch in _C_ESCAPES:
            out.append(_C_ESCAPES[ch])
        elif ord(ch) < 0x20 or ch == "\x7f":
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


def quote_strings(values: list[str] | tuple[str, ...]) -> str:
    """Go's `%q` applied to a []string: `["a" "b"]`."""
    return "[" + " ".join(quote(v) for v in values) + "]"


def _time_quote(s: str) -> str:
    # time.quote: ASCII kept, anything else as \x escapes of its UTF-8 bytes.
    out = ['"']
    for ch in s:
        if ord(ch) >= 0x80 or ch < " ":
            out.extend(f"\\x{b:02x}" for b in ch.encode("utf-8", "surrogateescape"))
        else:
            out.append("\\" + ch if ch in '"\\' else ch)
    out.append('"')
    return "".join(out)


_UNITS = {"ns": 1, "us": 1_000, "\u00b5s": 1_000, "\u03bcs": 1_000, "ms": 1_000_000,
          "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000}
_MAX = 1 << 63


def _leading_int(s: str) -> tuple[int, str]:
    i, v = 0, 0
    while i < len(s) and "0" <= s[i] <= "9":
        v = v * 10 + ord(s[i]) - 48
        if v > _MAX:
            raise ValueError("overflow")
        i += 1
    return v, s[i:]


def _leading_fraction(s: str) -> tuple[int, float, str]:
    i, v, scale, overflow = 0, 0, 1.0, False
    while i < len(s) and "0" <= s[i] <= "9":
        if not overflow:
            if v > (_MAX - 1) // 10:
                overflow = True  # like Go: ignore the digits that no longer fit
            else:
                v, scale = v * 10 + ord(s[i]) - 48, scale * 10
        i += 1
    return v, scale, s[i:]


def parse_duration(orig: str) -> int:
    """Go's time.ParseDuration, in nanoseconds; ValueError carries Go's message."""
    invalid = ValueError("time: invalid duration " + _time_quote(orig))
    s, neg = orig, False
    if s and s[0] in "+-":
        neg, s = s[0] == "-", s[1:]
    if s == "0":
        return 0
    if not s:
        raise invalid
    total = 0
    while s:
        if not (s[0] == "." or "0" <= s[0] <= "9"):
            raise invalid
        before = len(s)
        try:
            v, s = _leading_int(s)
        except ValueError:
            raise invalid from None
        pre, post, f, scale = before != len(s), False, 0, 1.0
        if s and s[0] == ".":
            s = s[1:]
            before = len(s)
            f, scale, s = _leading_fraction(s)
            post = before != len(s)
        if not pre and not post:
            raise invalid
        i = 0
        while i < len(s) and not (s[i] == "." or "0" <= s[i] <= "9"):
            i += 1
        if i == 0:
            raise ValueError("time: missing unit in duration " + _time_quote(orig))
        unit_name, s = s[:i], s[i:]
        unit = _UNITS.get(unit_name)
        if unit is None:
            raise ValueError(f"time: unknown unit {_time_quote(unit_name)} in duration "
                             + _time_quote(orig))
        if v > _MAX // unit:
            raise invalid
        v *= unit
        if f > 0:
            v += int(float(f) * (float(unit) / scale))
            if v > _MAX:
                raise invalid
        total += v
        if total > _MAX:
            raise invalid
    if neg:
        return -total
    if total > _MAX - 1:
        raise invalid
    return total


def parse_int32(s: str) -> int:
    """Go's strconv.ParseInt(s, 10, 32); ValueError carries Go's message."""
    body = s[1:] if s[:1] in ("+", "-") else s
    if not body or not all("0" <= c <= "9" for c in body):
        raise ValueError(f"strconv.ParseInt: parsing {quote(s)}: invalid syntax")
    value = int(s)
    if not -(1 << 31) <= value < (1 << 31):
        raise ValueError(f"strconv.ParseInt: parsing {quote(s)}: value out of range")
    return value
