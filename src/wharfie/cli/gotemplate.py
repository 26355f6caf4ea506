"""A subset of Go's ``text/template``: enough for real docker ``--format`` strings.

Supported: text and actions with ``{{- -}}`` trim markers and ``{{/* comments */}}``;
fields (``.A.B``), variables (``$``, ``$x := …``, ``$x = …``), chained fields on
parenthesised pipelines, literals (strings, raw strings, chars, numbers, booleans,
``nil``), pipelines (``.X | json``), ``if``/``else if``/``else``, ``range`` (with
``$i, $e :=``, ``break``, ``continue``), ``with``/``else with``, and the builtins
``and or not len index slice print printf println eq ne lt le gt ge html js urlquery``
plus docker's ``json split join title lower upper pad truncate``.

Values are plain Python data as decoded from JSON (dict = Go map, list = slice) or
:class:`GoStruct` objects, which behave like Go structs: an unknown field is an
error, as in ``can't evaluate field Foo in type *formatter.imageContext``.
Error messages follow Go's wording so that ``template parsing error: …`` reads the
same as docker's.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

__all__ = [
    "GoMap",
    "GoNil",
    "GoStruct",
    "NoValue",
    "RawJSON",
    "Template",
    "TemplateError",
    "ParseError",
    "ExecError",
    "go_json",
    "go_sprint",
    "go_sprintf",
    "parse",
]


# ----------------------------------------------------------------------------
# Value model


class _NoValueType:
    """Go's invalid reflect.Value, printed as ``<no value>`` (e.g. a missing map key)."""

    _instance: _NoValueType | None = None

    def __new__(cls) -> _NoValueType:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<no value>"

    def __bool__(self) -> bool:
        return False


NoValue = _NoValueType()


class GoMap(dict[str, Any]):
    """A Go map inside data where plain dicts stand for structs: a missing key is
    ``<no value>`` even when the template runs with ``missingkey=error``."""


class HeaderMap(dict[str, Any]):
    """docker's ``SubHeaderContext``: a map of column headers that also has methods
    (``Label``), called when the template passes arguments."""

    def __init__(self, data: Mapping[str, Any], methods: Mapping[str, Callable[..., Any]]) -> None:
        super().__init__(data)
        self.methods = dict(methods)


class GoNil:
    """A typed nil: a nil slice prints ``[]``, a nil map ``map[]``; JSON ``null``."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __bool__(self) -> bool:
        return False

    def __len__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return self.text


NIL_SLICE = GoNil("[]")
NIL_MAP = GoNil("map[]")


class OmitEmptyDict(dict[str, Any]):
    """A dict standing for a struct whose JSON keeps only ``json_keys`` (in that
    order) and omits empty values, like a Go struct with ``omitempty`` tags."""

    def __init__(self, data: Mapping[str, Any], json_keys: tuple[str, ...]) -> None:
        super().__init__(data)
        self.json_keys = json_keys


class RawJSON(str):
    """Pre-encoded JSON that :func:`go_json` copies verbatim (a Go ``json.Marshaler``)."""


class GoStruct:
    """A Go struct value: named fields in declaration order.

    ``fields`` maps Go field names to values (callables taking no arguments are
    evaluated lazily, like methods). ``json_names`` maps a Go field name to its JSON
    key (``None`` hides the field, as ``json:"-"``); ``omitempty`` lists the fields
    left out of JSON when empty. ``go_type`` names the type in error messages.
    ``stringer`` is the type's ``String()`` method: ``fmt`` prints its result.
    """

    def __init__(
        self,
        go_type: str,
        fields: Mapping[str, Any],
        *,
        json_names: Mapping[str, str | None] | None = None,
        omitempty: tuple[str, ...] | frozenset[str] = (),
        marshal: Callable[[], str] | None = None,
        pointer: bool = True,
        stringer: Callable[[], str] | None = None,
    ) -> None:
        self.go_type = go_type
        self.stringer = stringer
        self._fields = dict(fields)
        self._json_names = dict(json_names or {})
        self._omitempty = frozenset(omitempty)
        self._marshal = marshal
        self.pointer = pointer

    def has_field(self, name: str) -> bool:
        return name in self._fields

    def get_field(self, name: str) -> Any:
        value = self._fields[name]
        if callable(value) and not isinstance(value, GoStruct):
            value = value()
            self._fields[name] = value
        return value

    def field_names(self) -> list[str]:
        return list(self._fields)

    def set_field(self, name: str, value: Any) -> None:
        self._fields[name] = value

    def to_json_value(self) -> Any:
        """The value json.Marshal would encode (a dict in field order, or RawJSON)."""
        if self._marshal is not None:
            return RawJSON(self._marshal())
        out: dict[str, Any] = {}
        for name in self._fields:
            key = self._json_names.get(name, name)
            if key is None:
                continue
            value = self.get_field(name)
            if name in self._omitempty and _is_empty(value):
                continue
            out[key] = value
        return out


def _is_empty(value: Any) -> bool:
    if isinstance(value, GoNil):
        return True
    return value is None or value is NoValue or value is False or value == 0 or (
        isinstance(value, (str, list, dict, tuple)) and len(value) == 0
    )


# ----------------------------------------------------------------------------
# Go formatting of values (fmt %v), JSON (encoding/json) and Go type names


def go_type_name(value: Any) -> str:
    if isinstance(value, GoStruct):
        return value.go_type
    if value is None or value is NoValue:
        return "<nil>"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        if value and all(isinstance(v, str) for v in value):
            return "[]string"
        return "[]interface {}"
    if isinstance(value, GoMap):
        return "map[string]string"
    if isinstance(value, dict):
        return "map[string]interface {}"
    return type(value).__name__


def _format_float(f: float, verb: str = "v", prec: int | None = None) -> str:
    if f != f:
        return "NaN"
    if f in (float("inf"), float("-inf")):
        return "+Inf" if f > 0 else "-Inf"
    if verb in ("v", "g") and prec is None:
        # Go %v for float64 is %g with the shortest representation.
        r = repr(f)
        if "e" in r or "E" in r:
            mant, exp = r.split("e")
            mant = mant[:-2] if mant.endswith(".0") else mant
            sign = "-" if exp.startswith("-") else "+"
            digits = exp.lstrip("+-").rjust(2, "0")
            return f"{mant}e{sign}{digits}"
        exp10 = 0 if f == 0 else _exp10(f)
        if exp10 < -4 or exp10 >= 21:
            s = f"{f:e}"
            mant, exp = s.split("e")
            mant = mant.rstrip("0").rstrip(".")
            sign = "-" if exp.startswith("-") else "+"
            return f"{mant}e{sign}{exp.lstrip('+-').rjust(2, '0')}"
        if r.endswith(".0"):
            r = r[:-2]
        return r
    p = 6 if prec is None else prec
    if verb in ("f", "F"):
        return f"{f:.{p}f}"
    if verb in ("e", "E"):
        s = f"{f:.{p}e}"
        return s.upper() if verb == "E" else s
    if verb in ("g", "G"):
        s = f"{f:.{p}g}"
        return s.upper() if verb == "G" else s
    return repr(f)


def _exp10(f: float) -> int:
    import math

    return int(math.floor(math.log10(abs(f))))


def go_sprint_value(value: Any, top: bool = True) -> str:
    """Format like Go's ``fmt.Sprint`` (%v)."""
    if isinstance(value, GoNil):
        return value.text
    if value is NoValue:
        return "<no value>"
    if value is None:
        return "<nil>" if top else "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _format_float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (list, tuple)):
        return "[" + " ".join(go_sprint_value(v, False) for v in value) + "]"
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda kv: str(kv[0]))
        return "map[" + " ".join(
            f"{go_sprint_value(k, False)}:{go_sprint_value(v, False)}" for k, v in items
        ) + "]"
    if isinstance(value, GoStruct):
        if value.stringer is not None:
            return value.stringer()
        inner = " ".join(go_sprint_value(value.get_field(n), False) for n in value.field_names())
        return "{" + inner + "}"
    return str(value)


_JSON_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}
_JSON_RE = re.compile('["\\\\\x00-\x1f\u2028\u2029]')
_JSON_RE_HTML = re.compile('["\\\\\x00-\x1f\u2028\u2029<>&]')


def _json_escape_char(m: re.Match[str]) -> str:
    c = m.group(0)
    esc = _JSON_ESCAPES.get(c)
    if esc is not None:
        return esc
    return f"\\u{ord(c):04x}"


def go_json_string(s: str, escape_html: bool = False) -> str:
    pattern = _JSON_RE_HTML if escape_html else _JSON_RE
    return '"' + pattern.sub(_json_escape_char, s) + '"'


def go_json(value: Any, escape_html: bool = False) -> str:
    """Encode like Go's ``encoding/json`` (compact; maps keep their order)."""
    parts: list[str] = []
    _go_json_into(value, escape_html, parts)
    return "".join(parts)


def _go_json_into(value: Any, escape_html: bool, out: list[str]) -> None:
    if isinstance(value, RawJSON):
        out.append(str(value))
    elif value is None or value is NoValue or isinstance(value, GoNil):
        out.append("null")
    elif isinstance(value, OmitEmptyDict):
        _go_json_into(
            {k: value[k] for k in value.json_keys if k in value and not _is_empty(value[k])},
            escape_html, out,
        )
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, float):
        if value.is_integer() and abs(value) < 1e21:
            out.append(str(int(value)))
        else:
            out.append(_format_float(value).replace("e+", "e+").replace("e-0", "e-"))
    elif isinstance(value, str):
        out.append(go_json_string(value, escape_html))
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for i, v in enumerate(value):
            if i:
                out.append(",")
            _go_json_into(v, escape_html, out)
        out.append("]")
    elif isinstance(value, dict):
        out.append("{")
        for i, (k, v) in enumerate(value.items()):
            if i:
                out.append(",")
            out.append(go_json_string(str(k), escape_html))
            out.append(":")
            _go_json_into(v, escape_html, out)
        out.append("}")
    elif isinstance(value, GoStruct):
        _go_json_into(value.to_json_value(), escape_html, out)
    else:
        out.append(go_json_string(str(value), escape_html))


def _go_quote(s: str) -> str:
    out = ['"']
    for c in s:
        o = ord(c)
        if c == '"':
            out.append('\\"')
        elif c == "\\":
            out.append("\\\\")
        elif c == "\n":
            out.append("\\n")
        elif c == "\t":
            out.append("\\t")
        elif c == "\r":
            out.append("\\r")
        elif c == "\a":
            out.append("\\a")
        elif c == "\b":
            out.append("\\b")
        elif c == "\f":
            out.append("\\f")
        elif c == "\v":
            out.append("\\v")
        elif o < 0x20 or o == 0x7F:
            out.append(f"\\x{o:02x}")
        elif not c.isprintable():
            out.append(f"\\u{o:04x}" if o < 0x10000 else f"\\U{o:08x}")
        else:
            out.append(c)
    out.append('"')
    return "".join(out)


def go_sprint(*args: Any) -> str:
    """Go's ``fmt.Sprint``: spaces between operands when neither side is a string."""
    out: list[str] = []
    prev_string = True
    for i, a in enumerate(args):
        is_string = isinstance(a, str)
        if i > 0 and not is_string and not prev_string:
            out.append(" ")
        out.append(go_sprint_value(a))
        prev_string = is_string
    return "".join(out)


def go_sprintln(*args: Any) -> str:
    return " ".join(go_sprint_value(a) for a in args) + "\n"


_VERB_RE = re.compile(r"%([-+# 0]*)(\*|\d+)?(?:\.(\*|\d+)?)?([a-zA-Z%])")


def go_sprintf(fmt: str, *args: Any) -> str:
    """A practical subset of Go's ``fmt.Sprintf``."""
    out: list[str] = []
    argi = 0
    pos = 0
    for m in _VERB_RE.finditer(fmt):
        out.append(fmt[pos : m.start()])
        pos = m.end()
        flags, width_s, prec_s, verb = m.group(1), m.group(2), m.group(3), m.group(4)
        if verb == "%":
            out.append("%")
            continue
        width: int | None = None
        prec: int | None = None
        if width_s == "*":
            if argi < len(args) and isinstance(args[argi], int):
                width = args[argi]
            argi += 1
        elif width_s:
            width = int(width_s)
        if m.group(0).find(".") >= 0:
            if prec_s == "*":
                if argi < len(args) and isinstance(args[argi], int):
                    prec = args[argi]
                argi += 1
            else:
                prec = int(prec_s) if prec_s else 0
        if argi >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        arg = args[argi]
        argi += 1
        out.append(_format_verb(arg, verb, flags, width, prec))
    out.append(fmt[pos:])
    if argi < len(args):
        extra = ", ".join(f"{go_type_name(a)}={go_sprint_value(a)}" for a in args[argi:])
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)


def _pad(s: str, flags: str, width: int | None, numeric: bool = False) -> str:
    if width is None or len(s) >= width:
        return s
    if "-" in flags:
        return s + " " * (width - len(s))
    if "0" in flags and numeric:
        sign = ""
        if s and s[0] in "+-":
            sign, s = s[0], s[1:]
        return sign + s.rjust(width - len(sign), "0")
    return s.rjust(width)


def _format_verb(arg: Any, verb: str, flags: str, width: int | None, prec: int | None) -> str:
    bad = f"%!{verb}({go_type_name(arg)}={go_sprint_value(arg)})"
    if verb == "v":
        if isinstance(arg, float):
            return _pad(_format_float(arg, "v", prec), flags, width, True)
        return _pad(go_sprint_value(arg), flags, width)
    if verb == "T":
        return _pad(go_type_name(arg), flags, width)
    if verb == "s":
        if isinstance(arg, (str, list, tuple, dict)) or arg is None or isinstance(arg, GoStruct):
            s = go_sprint_value(arg)
            if prec is not None:
                s = s[:prec]
            return _pad(s, flags, width)
        return bad
    if verb == "q":
        if isinstance(arg, str):
            return _pad(_go_quote(arg), flags, width)
        if isinstance(arg, int) and not isinstance(arg, bool):
            return _pad("'" + chr(arg) + "'", flags, width)
        return bad
    if verb == "t":
        if isinstance(arg, bool):
            return _pad("true" if arg else "false", flags, width)
        return bad
    if verb in "dboxXc" and isinstance(arg, int) and not isinstance(arg, bool):
        if verb == "d":
            s = str(arg)
            if "+" in flags and arg >= 0:
                s = "+" + s
        elif verb == "b":
            s = format(arg, "b")
        elif verb == "o":
            s = format(arg, "o")
        elif verb == "x":
            s = format(arg, "x")
        elif verb == "X":
            s = format(arg, "X")
        else:
            return _pad(chr(arg), flags, width)
        return _pad(s, flags, width, True)
    if verb in "xX" and isinstance(arg, str):
        s = arg.encode().hex()
        return _pad(s.upper() if verb == "X" else s, flags, width)
    if verb in "feEgG" and isinstance(arg, (int, float)) and not isinstance(arg, bool):
        s = _format_float(float(arg), verb, prec)
        if "+" in flags and float(arg) >= 0:
            s = "+" + s
        return _pad(s, flags, width, True)
    return bad


# ----------------------------------------------------------------------------
# Errors


class TemplateError(Exception):
    """Base of template errors; str() reads like Go's error text."""


class ParseError(TemplateError):
    pass


class ExecError(TemplateError):
    pass


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


# ----------------------------------------------------------------------------
# Lexer (after Go's text/template/parse/lex.go)

T_ERROR = "error"
T_EOF = "EOF"
T_TEXT = "text"
T_LEFT = "{{"
T_RIGHT = "}}"
T_SPACE = "space"
T_FIELD = "field"
T_IDENT = "identifier"
T_VAR = "variable"
T_STRING = "string"
T_RAWSTRING = "raw string"
T_CHAR = "char"
T_NUMBER = "number"
T_BOOL = "bool"
T_NIL = "nil"
T_DOT = "."
T_PIPE = "|"
T_LPAREN = "("
T_RPAREN = ")"
T_DECLARE = ":="
T_ASSIGN = "="
T_COMMA = ","
T_KEYWORD = "keyword"
T_COMMENT = "comment"

_KEYWORDS = {"if", "else", "end", "range", "with", "define", "template", "block", "break", "continue"}
_SPACE_CHARS = " \t\r\n"


class _Token:
    __slots__ = ("kind", "val", "pos", "line")

    def __init__(self, kind: str, val: str, pos: int, line: int) -> None:
        self.kind = kind
        self.val = val
        self.pos = pos
        self.line = line

    def __repr__(self) -> str:
        return f"<{self.kind} {self.val!r}>"

    def describe(self) -> str:
        if self.kind == T_EOF:
            return "EOF"
        if self.kind == T_ERROR:
            return self.val
        if self.kind in (T_KEYWORD,):
            return f"<{self.val}>"
        if len(self.val) > 10:
            return f"{self.val[:10]!r}...".replace("'", '"')
        return '"' + self.val + '"'


_NUMBER_RE = re.compile(
    r"[+-]?(?:0[xX][0-9a-fA-F_]+(?:\.[0-9a-fA-F_]*)?(?:[pP][+-]?\d+)?"
    r"|0[oO][0-7_]+|0[bB][01_]+"
    r"|(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d+)?)i?"
)
_ALNUM_RE = re.compile(r"\w*")


def _lex(text: str, left: str = "{{", right: str = "}}") -> list[_Token]:
    toks: list[_Token] = []
    pos = 0
    line = 1
    n = len(text)
    trim_left_marker = left + "-"
    while True:
        # text
        i = text.find(left, pos)
        if i < 0:
            if pos < n:
                toks.append(_Token(T_TEXT, text[pos:], pos, line))
                line += text.count("\n", pos)
            toks.append(_Token(T_EOF, "", n, line))
            return toks
        # Does the delimiter have a trim marker?
        trim_left = text.startswith(trim_left_marker, i) and i + len(trim_left_marker) < n and (
            text[i + len(trim_left_marker)] in _SPACE_CHARS
        )
        seg_end = i
        if trim_left:
            seg_end_trim = len(text[pos:i].rstrip(_SPACE_CHARS)) + pos
        else:
            seg_end_trim = seg_end
        if seg_end_trim > pos:
            toks.append(_Token(T_TEXT, text[pos:seg_end_trim], pos, line))
        line += text.count("\n", pos, i)
        pos = i
        # action
        start_line = line
        after = i + len(left) + (2 if trim_left else 0)
        # comment?
        if text.startswith("/*", after):
            end = text.find("*/", after + 2)
            if end < 0:
                toks.append(_Token(T_ERROR, "unclosed comment", pos, line))
                return toks
            line += text.count("\n", pos, end)
            cpos = end + 2
            trim_right = False
            if text.startswith(" -" + right, cpos) or (
                cpos < n and text[cpos] in _SPACE_CHARS and text.startswith("-" + right, cpos + 1)
            ):
                trim_right = True
                cpos += 2
            if not text.startswith(right, cpos):
                toks.append(_Token(T_ERROR, "comment ends before closing delimiter", pos, line))
                return toks
            pos = cpos + len(right)
            if trim_right:
                stripped = len(text) - len(text[pos:].lstrip(_SPACE_CHARS))
                line += text.count("\n", pos, stripped)
                pos = stripped
            continue
        toks.append(_Token(T_LEFT, left, pos, start_line))
        pos = after
        paren_depth = 0
        while True:
            if text.startswith(right, pos):
                if paren_depth:
                    toks.append(_Token(T_ERROR, "unclosed left paren", pos, line))
                    return toks
                toks.append(_Token(T_RIGHT, right, pos, line))
                pos += len(right)
                break
            if pos >= n:
                toks.append(_Token(T_ERROR, "unclosed action", pos, line))
                return toks
            c = text[pos]
            if c in _SPACE_CHARS:
                j = pos
                while j < n and text[j] in _SPACE_CHARS:
                    j += 1
                if text.startswith("-" + right, j):
                    # " -}}": the last space belongs to the trim marker
                    if j - 1 > pos:
                        toks.append(_Token(T_SPACE, text[pos : j - 1], pos, line))
                    line += text.count("\n", pos, j)
                    if paren_depth:
                        toks.append(_Token(T_ERROR, "unclosed left paren", pos, line))
                        return toks
                    toks.append(_Token(T_RIGHT, right, j - 1, line))
                    pos = j + 1 + len(right)
                    stripped = len(text) - len(text[pos:].lstrip(_SPACE_CHARS))
                    line += text.count("\n", pos, stripped)
                    pos = stripped
                    break
                toks.append(_Token(T_SPACE, text[pos:j], pos, line))
                line += text.count("\n", pos, j)
                pos = j
                continue
            if c == "=":
                toks.append(_Token(T_ASSIGN, "=", pos, line))
                pos += 1
                continue
            if c == ":":
                if text.startswith(":=", pos):
                    toks.append(_Token(T_DECLARE, ":=", pos, line))
                    pos += 2
                    continue
                toks.append(_Token(T_ERROR, "expected :=", pos, line))
                return toks
            if c == "|":
                toks.append(_Token(T_PIPE, "|", pos, line))
                pos += 1
                continue
            if c == '"':
                j = pos + 1
                while True:
                    if j >= n or text[j] == "\n":
                        toks.append(_Token(T_ERROR, "unterminated quoted string", pos, line))
                        return toks
                    if text[j] == "\\":
                        j += 2
                        continue
                    if text[j] == '"':
                        break
                    j += 1
                toks.append(_Token(T_STRING, text[pos : j + 1], pos, line))
                pos = j + 1
                continue
            if c == "`":
                j = text.find("`", pos + 1)
                if j < 0:
                    toks.append(_Token(T_ERROR, "unterminated raw quoted string", pos, line))
                    return toks
                toks.append(_Token(T_RAWSTRING, text[pos : j + 1], pos, line))
                line += text.count("\n", pos, j)
                pos = j + 1
                continue
            if c == "'":
                j = pos + 1
                while True:
                    if j >= n or text[j] == "\n":
                        toks.append(_Token(T_ERROR, "unterminated character constant", pos, line))
                        return toks
                    if text[j] == "\\":
                        j += 2
                        continue
                    if text[j] == "'":
                        break
                    j += 1
                toks.append(_Token(T_CHAR, text[pos : j + 1], pos, line))
                pos = j + 1
                continue
            if c == "$":
                m = _ALNUM_RE.match(text, pos + 1)
                end = m.end() if m else pos + 1
                toks.append(_Token(T_VAR, text[pos:end], pos, line))
                pos = end
                continue
            if c == "." and not (pos + 1 < n and text[pos + 1].isdigit()):
                m = _ALNUM_RE.match(text, pos + 1)
                end = m.end() if m else pos + 1
                if end == pos + 1:
                    toks.append(_Token(T_DOT, ".", pos, line))
                else:
                    toks.append(_Token(T_FIELD, text[pos:end], pos, line))
                pos = end
                continue
            if c in "+-" or c.isdigit() or c == ".":
                m = _NUMBER_RE.match(text, pos)
                if not m or m.end() == pos:
                    toks.append(_Token(T_ERROR, f"bad number syntax: {text[pos:pos + 1]!r}", pos, line))
                    return toks
                end = m.end()
                if end < n and (text[end].isalnum() or text[end] == "_"):
                    m2 = _ALNUM_RE.match(text, end)
                    bad = text[pos : m2.end() if m2 else end + 1]
                    toks.append(_Token(T_ERROR, f'bad number syntax: "{bad}"', pos, line))
                    return toks
                toks.append(_Token(T_NUMBER, text[pos:end], pos, line))
                pos = end
                continue
            if c.isalpha() or c == "_":
                m = _ALNUM_RE.match(text, pos)
                assert m is not None
                word = m.group(0)
                end = m.end()
                if word in _KEYWORDS:
                    kind = T_KEYWORD
                elif word in ("true", "false"):
                    kind = T_BOOL
                elif word == "nil":
                    kind = T_NIL
                else:
                    kind = T_IDENT
                toks.append(_Token(kind, word, pos, line))
                pos = end
                continue
            if c == "(":
                paren_depth += 1
                toks.append(_Token(T_LPAREN, "(", pos, line))
                pos += 1
                continue
            if c == ")":
                paren_depth -= 1
                if paren_depth < 0:
                    toks.append(_Token(T_ERROR, "unexpected right paren U+0029 ')'", pos, line))
                    return toks
                toks.append(_Token(T_RPAREN, ")", pos, line))
                pos += 1
                continue
            if c == ",":
                toks.append(_Token(T_COMMA, ",", pos, line))
                pos += 1
                continue
            toks.append(_Token(T_ERROR, f"bad character U+{ord(c):04X} '{c}'", pos, line))
            return toks


# ----------------------------------------------------------------------------
# Parse tree


class Node:
    pos: int = 0
    line: int = 1

    def __str__(self) -> str:  # pragma: no cover - overridden
        return ""


class TextNode(Node):
    def __init__(self, text: str, pos: int) -> None:
        self.text = text
        self.pos = pos


class FieldNode(Node):
    def __init__(self, idents: list[str], pos: int) -> None:
        self.idents = idents
        self.pos = pos

    def __str__(self) -> str:
        return "".join("." + i for i in self.idents)


class VariableNode(Node):
    def __init__(self, idents: list[str], pos: int) -> None:
        self.idents = idents  # idents[0] is "$name"
        self.pos = pos

    def __str__(self) -> str:
        return ".".join(self.idents)


class DotNode(Node):
    def __init__(self, pos: int) -> None:
        self.pos = pos

    def __str__(self) -> str:
        return "."


class NilNode(Node):
    def __init__(self, pos: int) -> None:
        self.pos = pos

    def __str__(self) -> str:
        return "nil"


class BoolNode(Node):
    def __init__(self, value: bool, pos: int) -> None:
        self.value = value
        self.pos = pos

    def __str__(self) -> str:
        return "true" if self.value else "false"


class NumberNode(Node):
    def __init__(self, text: str, value: int | float, pos: int) -> None:
        self.text = text
        self.value = value
        self.pos = pos

    def __str__(self) -> str:
        return self.text


class StringNode(Node):
    def __init__(self, quoted: str, value: str, pos: int) -> None:
        self.quoted = quoted
        self.value = value
        self.pos = pos

    def __str__(self) -> str:
        return self.quoted


class IdentifierNode(Node):
    def __init__(self, name: str, pos: int) -> None:
        self.name = name
        self.pos = pos

    def __str__(self) -> str:
        return self.name


class ChainNode(Node):
    def __init__(self, node: Node, fields: list[str], pos: int) -> None:
        self.node = node
        self.fields = fields
        self.pos = pos

    def __str__(self) -> str:
        inner = str(self.node)
        if isinstance(self.node, PipeNode):
            inner = "(" + inner + ")"
        return inner + "".join("." + f for f in self.fields)


class CommandNode(Node):
    def __init__(self, args: list[Node], pos: int) -> None:
        self.args = args
        self.pos = pos

    def __str__(self) -> str:
        parts = []
        for a in self.args:
            if isinstance(a, PipeNode):
                parts.append("(" + str(a) + ")")
            else:
                parts.append(str(a))
        return " ".join(parts)


class PipeNode(Node):
    def __init__(self, pos: int, line: int) -> None:
        self.pos = pos
        self.line = line
        self.decl: list[VariableNode] = []
        self.is_assign = False
        self.cmds: list[CommandNode] = []

    def __str__(self) -> str:
        s = ""
        if self.decl:
            s = ", ".join(str(d) for d in self.decl) + (" = " if self.is_assign else " := ")
        return s + " | ".join(str(c) for c in self.cmds)


class ActionNode(Node):
    def __init__(self, pipe: PipeNode, pos: int, line: int) -> None:
        self.pipe = pipe
        self.pos = pos
        self.line = line

    def __str__(self) -> str:
        return "{{" + str(self.pipe) + "}}"


class ListNode(Node):
    def __init__(self, pos: int) -> None:
        self.pos = pos
        self.nodes: list[Node] = []


class BranchNode(Node):
    kind = ""

    def __init__(
        self, pipe: PipeNode, body: ListNode, else_list: ListNode | None, pos: int, line: int
    ) -> None:
        self.pipe = pipe
        self.body = body
        self.else_list = else_list
        self.pos = pos
        self.line = line

    def __str__(self) -> str:
        return "{{" + self.kind + " " + str(self.pipe) + "}}"


class IfNode(BranchNode):
    kind = "if"


class RangeNode(BranchNode):
    kind = "range"


class WithNode(BranchNode):
    kind = "with"


class BreakNode(Node):
    def __init__(self, pos: int, line: int) -> None:
        self.pos = pos
        self.line = line


class ContinueNode(Node):
    def __init__(self, pos: int, line: int) -> None:
        self.pos = pos
        self.line = line


class TemplateNode(Node):
    def __init__(self, name: str, pipe: PipeNode | None, pos: int, line: int) -> None:
        self.name = name
        self.pipe = pipe
        self.pos = pos
        self.line = line


# ----------------------------------------------------------------------------
# Parser


def _unquote(tok: _Token) -> str:
    s = tok.val
    if tok.kind == T_RAWSTRING:
        return s[1:-1].replace("\r", "")
    body = s[1:-1]
    if "\\" not in body:
        return body
    out: list[str] = []
    i = 0
    simple = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "f": "\f", "v": "\v",
              "\\": "\\", '"': '"', "'": "'"}
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        i += 1
        if i >= len(body):
            raise ValueError("invalid syntax")
        e = body[i]
        if e in simple:
            out.append(simple[e])
            i += 1
        elif e == "x":
            out.append(chr(int(body[i + 1 : i + 3], 16)))
            i += 3
        elif e == "u":
            out.append(chr(int(body[i + 1 : i + 5], 16)))
            i += 5
        elif e == "U":
            out.append(chr(int(body[i + 1 : i + 9], 16)))
            i += 9
        elif e in "01234567":
            out.append(chr(int(body[i : i + 3], 8)))
            i += 3
        else:
            raise ValueError("invalid syntax")
    return "".join(out)


def _parse_number(text: str) -> int | float:
    t = text.replace("_", "")
    if t.endswith("i"):
        raise ValueError("complex numbers are not supported")
    low = t.lower().lstrip("+-")
    sign = -1 if t.startswith("-") else 1
    if low.startswith("0x") and "." not in low and "p" not in low:
        return sign * int(low[2:], 16)
    if low.startswith("0o"):
        return sign * int(low[2:], 8)
    if low.startswith("0b"):
        return sign * int(low[2:], 2)
    if low.startswith("0x"):
        return sign * float.fromhex(low)
    if re.fullmatch(r"\d+", low):
        if len(low) > 1 and low.startswith("0"):
            return sign * int(low, 8)
        return sign * int(low)
    return sign * float(low)


class _Parser:
    def __init__(self, name: str, text: str, funcs: Mapping[str, Any]) -> None:
        self.name = name
        self.text = text
        self.funcs = funcs
        self.toks = _lex(text)
        self.i = 0
        self.vars: list[str] = ["$"]

    # token helpers -------------------------------------------------------
    def next(self) -> _Token:
        tok = self.toks[min(self.i, len(self.toks) - 1)]
        self.i += 1
        return tok

    def backup(self) -> None:
        self.i -= 1

    def peek(self) -> _Token:
        return self.toks[min(self.i, len(self.toks) - 1)]

    def next_non_space(self) -> _Token:
        while True:
            tok = self.next()
            if tok.kind != T_SPACE:
                return tok

    def peek_non_space(self) -> _Token:
        tok = self.next_non_space()
        self.backup()
        return tok

    def error(self, msg: str, line: int | None = None) -> ParseError:
        if line is None:
            line = self.toks[min(max(self.i - 1, 0), len(self.toks) - 1)].line
        return ParseError(f"template: {self.name}:{line}: {msg}")

    def unexpected(self, tok: _Token, context: str) -> ParseError:
        if tok.kind == T_ERROR:
            return self.error(tok.val, tok.line)
        return self.error(f"unexpected {tok.describe()} in {context}", tok.line)

    def expect(self, kind: str, context: str) -> _Token:
        tok = self.next_non_space()
        if tok.kind != kind:
            raise self.unexpected(tok, context)
        return tok

    # grammar ---------------------------------------------------------------
    def parse(self) -> ListNode:
        root = ListNode(0)
        while self.peek().kind != T_EOF:
            node = self.text_or_action()
            if isinstance(node, _EndMarker | _ElseMarker):
                raise self.error(f"unexpected {node}", node.line)
            root.nodes.append(node)
        return root

    def item_list(self) -> tuple[ListNode, Node]:
        lst = ListNode(self.peek_non_space().pos)
        while self.peek_non_space().kind != T_EOF:
            node = self.text_or_action()
            if isinstance(node, _EndMarker | _ElseMarker):
                return lst, node
            lst.nodes.append(node)
        raise self.error("unexpected EOF")

    def text_or_action(self) -> Node:
        tok = self.next_non_space()
        if tok.kind == T_TEXT:
            return TextNode(tok.val, tok.pos)
        if tok.kind == T_LEFT:
            return self.action()
        if tok.kind == T_ERROR:
            raise self.error(tok.val, tok.line)
        raise self.unexpected(tok, "input")

    def action(self) -> Node:
        tok = self.next_non_space()
        if tok.kind == T_KEYWORD:
            kw = tok.val
            if kw == "if":
                return self.branch(IfNode, "if", tok)
            if kw == "range":
                return self.branch(RangeNode, "range", tok)
            if kw == "with":
                return self.branch(WithNode, "with", tok)
            if kw == "end":
                self.expect(T_RIGHT, "end")
                return _EndMarker(tok.line)
            if kw == "else":
                return self.else_control(tok)
            if kw == "break":
                if not self.in_range:
                    raise self.error("{{break}} outside {{range}}", tok.line)
                self.expect(T_RIGHT, "{{break}}")
                return BreakNode(tok.pos, tok.line)
            if kw == "continue":
                if not self.in_range:
                    raise self.error("{{continue}} outside {{range}}", tok.line)
                self.expect(T_RIGHT, "{{continue}}")
                return ContinueNode(tok.pos, tok.line)
            if kw in ("template", "block", "define"):
                raise self.error(f"{{{{{kw}}}}} is not supported", tok.line)
        self.backup()
        pipe = self.pipeline("command", T_RIGHT)
        return ActionNode(pipe, tok.pos, tok.line)

    in_range = 0

    def else_control(self, tok: _Token) -> Node:
        peek = self.peek_non_space()
        if peek.kind == T_KEYWORD and peek.val in ("if", "with"):
            # "{{else if ...}}" is treated as "{{else}}{{if ...}}"
            return _ElseMarker(tok.line, chained=peek.val)
        self.expect(T_RIGHT, "else")
        return _ElseMarker(tok.line)

    def branch(self, cls: type[BranchNode], context: str, tok: _Token) -> BranchNode:
        saved_vars = len(self.vars)
        pipe = self.pipeline(context, T_RIGHT)
        if cls is RangeNode:
            self.in_range += 1
        try:
            body, end = self.item_list()
        finally:
            if cls is RangeNode:
                self.in_range -= 1
        else_list: ListNode | None = None
        if isinstance(end, _ElseMarker):
            if end.chained:
                # else if / else with: parse the nested branch as the else list.
                if context == "range" or end.chained != context:
                    if not (context == "if" and end.chained == "if") and not (
                        context == "with" and end.chained == "with"
                    ):
                        raise self.error(f"unexpected {{{{else {end.chained}}}}}", end.line)
                else_list = ListNode(self.peek().pos)
                kw = self.next_non_space()  # "if" / "with"
                nested_cls: type[BranchNode] = IfNode if kw.val == "if" else WithNode
                nested = self.branch(nested_cls, kw.val, kw)
                else_list.nodes.append(nested)
                del self.vars[saved_vars:]
                return cls(pipe, body, else_list, tok.pos, tok.line)
            else_list, end = self.item_list()
            if not isinstance(end, _EndMarker):
                raise self.error("expected end; found {{else}}", end.line)
        del self.vars[saved_vars:]
        return cls(pipe, body, else_list, tok.pos, tok.line)

    def pipeline(self, context: str, end: str) -> PipeNode:
        tok = self.peek_non_space()
        pipe = PipeNode(tok.pos, tok.line)
        # declarations
        if tok.kind == T_VAR:
            save = self.i
            v = self.next_non_space()
            nxt = self.peek_non_space()
            if nxt.kind in (T_DECLARE, T_ASSIGN):
                self.next_non_space()
                pipe.is_assign = nxt.kind == T_ASSIGN
                pipe.decl.append(VariableNode([v.val], v.pos))
                if not pipe.is_assign:
                    self.vars.append(v.val)
                elif v.val not in self.vars:
                    raise self.error(f'undefined variable "{v.val}"', v.line)
            elif nxt.kind == T_COMMA and context == "range":
                self.next_non_space()
                v2 = self.next_non_space()
                if v2.kind != T_VAR:
                    raise self.error("range can only initialize variables", v2.line)
                op = self.next_non_space()
                if op.kind not in (T_DECLARE, T_ASSIGN):
                    raise self.unexpected(op, "range")
                pipe.is_assign = op.kind == T_ASSIGN
                pipe.decl.append(VariableNode([v.val], v.pos))
                pipe.decl.append(VariableNode([v2.val], v2.pos))
                if not pipe.is_assign:
                    self.vars.extend([v.val, v2.val])
            else:
                self.i = save
        while True:
            tok = self.next_non_space()
            if tok.kind == end:
                self.check_pipeline(pipe, context)
                return pipe
            if tok.kind in (T_BOOL, T_CHAR, T_DOT, T_FIELD, T_IDENT, T_NUMBER, T_NIL,
                            T_RAWSTRING, T_STRING, T_VAR, T_LPAREN):
                self.backup()
                pipe.cmds.append(self.command())
                continue
            if tok.kind == T_ERROR:
                raise self.error(tok.val, tok.line)
            raise self.unexpected(tok, context)

    def check_pipeline(self, pipe: PipeNode, context: str) -> None:
        if not pipe.cmds:
            raise self.error(f"missing value for {context}")
        for i, c in enumerate(pipe.cmds[1:], 1):
            first = c.args[0]
            if isinstance(first, (BoolNode, DotNode, NilNode, NumberNode, StringNode)):
                raise self.error(f"non executable command in pipeline stage {i + 1}")

    def command(self) -> CommandNode:
        cmd = CommandNode([], self.peek_non_space().pos)
        while True:
            self.peek_non_space()
            operand = self.operand()
            if operand is not None:
                cmd.args.append(operand)
            tok = self.next()
            if tok.kind == T_SPACE:
                continue
            if tok.kind in (T_RIGHT, T_RPAREN):
                self.backup()
            elif tok.kind == T_PIPE:
                pass
            elif tok.kind == T_ERROR:
                raise self.error(tok.val, tok.line)
            else:
                raise self.unexpected(tok, "operand")
            break
        if not cmd.args:
            raise self.error("empty command")
        return cmd

    def operand(self) -> Node | None:
        node = self.term()
        if node is None:
            return None
        if self.peek().kind == T_FIELD:
            chain_pos = self.peek().pos
            fields: list[str] = []
            while self.peek().kind == T_FIELD:
                fields.extend(self.next().val[1:].split("."))
            # Go gives the combined node the position of the first chained field.
            if isinstance(node, FieldNode):
                return FieldNode(node.idents + fields, chain_pos)
            if isinstance(node, VariableNode):
                return VariableNode(node.idents + fields, chain_pos)
            if isinstance(node, (BoolNode, StringNode, NumberNode, NilNode, DotNode)):
                raise self.error(f"unexpected . after term {str(node)!r}".replace("'", '"'))
            return ChainNode(node, fields, chain_pos)
        return node

    def term(self) -> Node | None:
        tok = self.next_non_space()
        k = tok.kind
        if k == T_IDENT:
            if tok.val not in self.funcs:
                raise self.error(f'function "{tok.val}" not defined', tok.line)
            return IdentifierNode(tok.val, tok.pos)
        if k == T_DOT:
            return DotNode(tok.pos)
        if k == T_NIL:
            return NilNode(tok.pos)
        if k == T_VAR:
            if tok.val not in self.vars:
                raise self.error(f'undefined variable "{tok.val}"', tok.line)
            return VariableNode([tok.val], tok.pos)
        if k == T_FIELD:
            return FieldNode(tok.val[1:].split("."), tok.pos)
        if k == T_BOOL:
            return BoolNode(tok.val == "true", tok.pos)
        if k in (T_CHAR,):
            try:
                ch = _unquote(_Token(T_STRING, '"' + tok.val[1:-1] + '"', tok.pos, tok.line))
            except ValueError:
                raise self.error(f"malformed character constant: {tok.val}", tok.line) from None
            if len(ch) != 1:
                raise self.error(f"malformed character constant: {tok.val}", tok.line)
            return NumberNode(tok.val, ord(ch), tok.pos)
        if k == T_NUMBER:
            try:
                value = _parse_number(tok.val)
            except ValueError:
                raise self.error(f"illegal number syntax: {tok.val!r}".replace("'", '"'), tok.line) from None
            return NumberNode(tok.val, value, tok.pos)
        if k == T_LPAREN:
            pipe = self.pipeline("parenthesized pipeline", T_RPAREN)
            return pipe
        if k in (T_STRING, T_RAWSTRING):
            try:
                return StringNode(tok.val, _unquote(tok), tok.pos)
            except (ValueError, IndexError):
                raise self.error("invalid syntax", tok.line) from None
        self.backup()
        return None


class _EndMarker(Node):
    def __init__(self, line: int) -> None:
        self.line = line

    def __str__(self) -> str:
        return "{{end}}"


class _ElseMarker(Node):
    def __init__(self, line: int, chained: str = "") -> None:
        self.line = line
        self.chained = chained

    def __str__(self) -> str:
        return "{{else}}"


# ----------------------------------------------------------------------------
# Builtin functions


class _FuncError(Exception):
    """Raised by a template function: reported as ``error calling NAME: MSG``."""


def _truth(value: Any) -> bool:
    if value is None or value is NoValue or isinstance(value, GoNil):
        return False
    if isinstance(value, GoStruct):
        return True
    if isinstance(value, (bool, int, float, str, list, tuple, dict)):
        return bool(value)
    return True


def _fn_len(item: Any) -> int:
    if isinstance(item, GoNil):
        return 0
    if isinstance(item, str):
        return len(item.encode())
    if isinstance(item, (list, tuple, dict)):
        return len(item)
    raise _FuncError(f"len of type {go_type_name(item)}")


def _fn_index(item: Any, *indices: Any) -> Any:
    if item is None or item is NoValue:
        raise _FuncError("index of untyped nil")
    for idx in indices:
        if item is NIL_MAP:
            item = ""
            continue
        if item is NIL_SLICE:
            item = []
        if isinstance(item, (list, tuple, str)):
            if not isinstance(idx, int) or isinstance(idx, bool):
                if idx is None:
                    raise _FuncError("cannot index slice/array with nil")
                raise _FuncError(f"cannot index slice/array with type {go_type_name(idx)}")
            if idx < 0 or idx >= len(item):
                raise _FuncError(f"index out of range: {idx}")
            item = item.encode()[idx] if isinstance(item, str) else item[idx]
        elif isinstance(item, dict):
            if idx is None:
                raise _FuncError("value is nil; should be of type string")
            if not isinstance(idx, str):
                raise _FuncError(
                    f"value has type {go_type_name(idx)}; should be string"
                )
            item = item.get(idx, "")
        elif item is None or item is NoValue:
            raise _FuncError("index of nil pointer")
        else:
            raise _FuncError(f"can't index item of type {go_type_name(item)}")
    return item


def _fn_slice(item: Any, *indices: Any) -> Any:
    if not isinstance(item, (list, tuple, str)):
        raise _FuncError(f"can't slice item of type {go_type_name(item)}")
    if len(indices) > 3:
        raise _FuncError(f"too many slice indexes: {len(indices)}")
    idx = [int(i) for i in indices]
    n = len(item)
    start = idx[0] if idx else 0
    end = idx[1] if len(idx) > 1 else n
    if start < 0 or end > n or start > end:
        raise _FuncError(f"index out of range: {end if end > n else start}")
    return item[start:end]


def _basic_kind(v: Any) -> str:
    if v is None or v is NoValue:
        return "nil"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    return "other"


def _fn_eq(arg1: Any, *args: Any) -> bool:
    if not args:
        raise _FuncError("missing argument for comparison")
    k1 = _basic_kind(arg1)
    for a in args:
        k2 = _basic_kind(a)
        if k1 == "nil" or k2 == "nil":
            if k1 == k2:
                return True
            if k1 in ("other",) or k2 in ("other",):
                continue  # a pointer/struct compared with nil: not equal
            if k1 != "nil" and k2 != "nil":
                raise _FuncError("incompatible types for comparison")
            continue
        if k1 != k2:
            raise _FuncError("incompatible types for comparison")
        if k1 == "other":
            if isinstance(arg1, GoStruct) or isinstance(a, GoStruct):
                if arg1 is a:
                    return True
                continue
            raise _FuncError(
                f"non-comparable type {go_sprint_value(arg1)}: {go_type_name(arg1)}"
            )
        if arg1 == a:
            return True
    return False


def _fn_ne(a: Any, b: Any) -> bool:
    return not _fn_eq(a, b)


def _cmp(a: Any, b: Any) -> int:
    ka, kb = _basic_kind(a), _basic_kind(b)
    if ka != kb or ka not in ("number", "string"):
        if ka == kb:
            raise _FuncError("invalid type for comparison")
        raise _FuncError("incompatible types for comparison")
    return (a > b) - (a < b)


def _fn_lt(a: Any, b: Any) -> bool:
    return _cmp(a, b) < 0


def _fn_le(a: Any, b: Any) -> bool:
    return _cmp(a, b) <= 0


def _fn_gt(a: Any, b: Any) -> bool:
    return _cmp(a, b) > 0


def _fn_ge(a: Any, b: Any) -> bool:
    return _cmp(a, b) >= 0


def _fn_not(a: Any) -> bool:
    return not _truth(a)


def _fn_json(v: Any) -> str:
    return go_json(v, escape_html=False)


def _require_str(name: str, v: Any, pos: int = 1) -> str:
    if not isinstance(v, str):
        raise _FuncError(f"wrong type for value; expected string; got {go_type_name(v)}")
    return v


def _fn_split(s: Any, sep: Any) -> list[str]:
    s = _require_str("split", s)
    sep = _require_str("split", sep)
    if sep == "":
        return list(s)
    return s.split(sep)


def _fn_join(items: Any, sep: Any) -> str:
    sep = _require_str("join", sep)
    if not isinstance(items, (list, tuple)):
        raise _FuncError(f"wrong type for value; expected []string; got {go_type_name(items)}")
    out = []
    for it in items:
        if not isinstance(it, str):
            raise _FuncError(
                f"wrong type for value; expected []string; got {go_type_name(items)}"
            )
        out.append(it)
    return sep.join(out)


def _fn_title(s: Any) -> str:
    s = _require_str("title", s)
    out = []
    prev_sep = True
    for c in s:
        if prev_sep and c.isalpha():
            out.append(c.upper() if len(c.upper()) == 1 else c.title())
        else:
            out.append(c)
        prev_sep = not (c.isalnum() or c == "_")
    return "".join(out)


def _fn_lower(s: Any) -> str:
    return _require_str("lower", s).lower()


def _fn_upper(s: Any) -> str:
    return _require_str("upper", s).upper()


def _fn_pad(s: Any, prefix: Any, suffix: Any) -> str:
    s = _require_str("pad", s)
    if s == "":
        return s
    return " " * int(prefix) + s + " " * int(suffix)


def _fn_truncate(s: Any, length: Any) -> str:
    s = _require_str("truncate", s)
    b = s.encode()
    if len(b) < int(length):
        return s
    return b[: int(length)].decode(errors="ignore")


def _fn_html(*args: Any) -> str:
    s = go_sprint(*args)
    return (
        s.replace("&", "&amp;").replace("'", "&#39;").replace("<", "&lt;")
        .replace(">", "&gt;").replace('"', "&#34;").replace("\x00", "\ufffd")
    )


def _fn_js(*args: Any) -> str:
    s = go_sprint(*args)
    out = []
    for c in s:
        if c in "\\'\"":
            out.append("\\" + c)
        elif c in "<>&=":
            out.append(f"\\u{ord(c):04X}")
        elif ord(c) < 0x20:
            out.append(f"\\u{ord(c):04X}")
        else:
            out.append(c)
    return "".join(out)


def _fn_urlquery(*args: Any) -> str:
    from urllib.parse import quote_plus

    return quote_plus(go_sprint(*args))


def _fn_printf(fmt: Any, *args: Any) -> str:
    return go_sprintf(_require_str("printf", fmt), *args)


# name -> (function, minimum args, maximum args or -1 for variadic)
BUILTINS: dict[str, tuple[Callable[..., Any], int, int]] = {
    "and": (lambda *a: a, 1, -1),  # special-cased (short circuit)
    "or": (lambda *a: a, 1, -1),  # special-cased (short circuit)
    "not": (_fn_not, 1, 1),
    "len": (_fn_len, 1, 1),
    "index": (_fn_index, 1, -1),
    "slice": (_fn_slice, 1, -1),
    "print": (go_sprint, 0, -1),
    "printf": (_fn_printf, 1, -1),
    "println": (go_sprintln, 0, -1),
    "eq": (_fn_eq, 1, -1),
    "ne": (_fn_ne, 2, 2),
    "lt": (_fn_lt, 2, 2),
    "le": (_fn_le, 2, 2),
    "gt": (_fn_gt, 2, 2),
    "ge": (_fn_ge, 2, 2),
    "html": (_fn_html, 0, -1),
    "js": (_fn_js, 0, -1),
    "urlquery": (_fn_urlquery, 0, -1),
    "call": (lambda f, *a: f(*a), 1, -1),
}

#: docker's ``templates.basicFunctions``
DOCKER_FUNCS: dict[str, tuple[Callable[..., Any], int, int]] = {
    "json": (_fn_json, 1, 1),
    "split": (_fn_split, 2, 2),
    "join": (_fn_join, 2, 2),
    "title": (_fn_title, 1, 1),
    "lower": (_fn_lower, 1, 1),
    "upper": (_fn_upper, 1, 1),
    "pad": (_fn_pad, 3, 3),
    "truncate": (_fn_truncate, 2, 2),
}


def _hdr_identity(v: Any, *_rest: Any) -> Any:
    if not isinstance(v, str):
        raise _FuncError(f"wrong type for value; expected string; got {go_type_name(v)}")
    return v


#: docker's ``templates.HeaderFunctions``: used to render a table's header row
HEADER_FUNCS: dict[str, tuple[Callable[..., Any], int, int]] = {
    "json": (_hdr_identity, 1, 1),
    "split": (_hdr_identity, 2, 2),
    "join": (_hdr_identity, 2, 2),
    "title": (_hdr_identity, 1, 1),
    "lower": (_hdr_identity, 1, 1),
    "upper": (_hdr_identity, 1, 1),
    "truncate": (_hdr_identity, 2, 2),
}


# ----------------------------------------------------------------------------
# Execution


class _State:
    def __init__(self, tmpl: Template, funcs: Mapping[str, tuple[Callable[..., Any], int, int]],
                 missingkey_error: bool) -> None:
        self.tmpl = tmpl
        self.funcs = funcs
        self.missingkey_error = missingkey_error
        self.vars: list[tuple[str, Any]] = []
        self.node: Node | None = None
        self.out: list[str] = []

    def at(self, node: Node) -> None:
        self.node = node

    def errorf(self, msg: str) -> ExecError:
        name = self.tmpl.name
        node = self.node
        if node is None:
            return ExecError(f"template: {name}: {msg}")
        text = self.tmpl.text
        pos = node.pos
        before = text[:pos]
        line = 1 + before.count("\n")
        nl = before.rfind("\n")
        col = pos - (nl + 1) if nl >= 0 else pos
        ctx = str(node)
        if len(ctx) > 20:
            ctx = ctx[:20] + "..."
        return ExecError(f'template: {name}:{line}:{col}: executing "{name}" at <{ctx}>: {msg}')

    # variables -------------------------------------------------------------
    def push(self, name: str, value: Any) -> None:
        self.vars.append((name, value))

    def mark(self) -> int:
        return len(self.vars)

    def pop(self, mark: int) -> None:
        del self.vars[mark:]

    def set_var(self, name: str, value: Any) -> None:
        for i in range(len(self.vars) - 1, -1, -1):
            if self.vars[i][0] == name:
                self.vars[i] = (name, value)
                return
        raise self.errorf(f"undefined variable: {name}")

    def var_value(self, name: str) -> Any:
        for i in range(len(self.vars) - 1, -1, -1):
            if self.vars[i][0] == name:
                return self.vars[i][1]
        raise self.errorf(f"undefined variable: {name}")

    # walking -----------------------------------------------------------------
    def walk(self, dot: Any, node: Node) -> None:
        self.at(node)
        if isinstance(node, ActionNode):
            val = self.eval_pipeline(dot, node.pipe)
            if not node.pipe.decl:
                self.print_value(node, val)
        elif isinstance(node, TextNode):
            self.out.append(node.text)
        elif isinstance(node, ListNode):
            for n in node.nodes:
                self.walk(dot, n)
        elif isinstance(node, IfNode | WithNode):
            self.walk_if_or_with(node, dot)
        elif isinstance(node, RangeNode):
            self.walk_range(dot, node)
        elif isinstance(node, BreakNode):
            raise _Break()
        elif isinstance(node, ContinueNode):
            raise _Continue()
        else:
            raise self.errorf(f"unknown node: {node}")

    def walk_if_or_with(self, node: BranchNode, dot: Any) -> None:
        mark = self.mark()
        try:
            val = self.eval_pipeline(dot, node.pipe)
            if _truth(val):
                if isinstance(node, WithNode):
                    self.walk(val, node.body)
                else:
                    self.walk(dot, node.body)
            elif node.else_list is not None:
                self.walk(dot, node.else_list)
        finally:
            self.pop(mark)

    def walk_range(self, dot: Any, node: RangeNode) -> None:
        self.at(node)
        mark = self.mark()
        try:
            val = self.eval_pipeline(dot, node.pipe)
            # The pipeline's declared variables are set per iteration.
            mark2 = self.mark()
            items: Iterator[tuple[Any, Any]]
            if val is None or val is NoValue or isinstance(val, GoNil):
                items = iter(())
            elif isinstance(val, (list, tuple)):
                items = iter(list(enumerate(val)))
            elif isinstance(val, dict):
                items = iter(sorted(val.items(), key=lambda kv: kv[0]))
            elif isinstance(val, int) and not isinstance(val, bool):
                items = iter([(i, i) for i in range(val)])
            else:
                self.at(node)
                raise self.errorf(f"range can't iterate over {go_sprint_value(val)}")
            ran = False
            for key, elem in items:
                ran = True
                decl = node.pipe.decl
                if len(decl) == 1:
                    self._assign(decl[0].idents[0], elem, node.pipe.is_assign)
                elif len(decl) == 2:
                    self._assign(decl[0].idents[0], key, node.pipe.is_assign)
                    self._assign(decl[1].idents[0], elem, node.pipe.is_assign)
                try:
                    self.walk(elem, node.body)
                except _Continue:
                    pass
                except _Break:
                    break
                finally:
                    self.pop(mark2)
            if not ran and node.else_list is not None:
                self.walk(dot, node.else_list)
        finally:
            self.pop(mark)

    def _assign(self, name: str, value: Any, is_assign: bool) -> None:
        if is_assign:
            self.set_var(name, value)
        else:
            self.push(name, value)

    def eval_pipeline(self, dot: Any, pipe: PipeNode) -> Any:
        self.at(pipe)
        value: Any = _MISSING
        for cmd in pipe.cmds:
            value = self.eval_command(dot, cmd, value)
        for var in pipe.decl:
            # range declarations are handled by walk_range
            if self._in_range_decl(pipe):
                break
            self._assign(var.idents[0], value, pipe.is_assign)
        return value

    def _in_range_decl(self, pipe: PipeNode) -> bool:
        return getattr(pipe, "_range", False)

    def eval_command(self, dot: Any, cmd: CommandNode, final: Any) -> Any:
        first = cmd.args[0]
        if isinstance(first, FieldNode):
            return self.eval_field_node(dot, first, cmd.args, final)
        if isinstance(first, ChainNode):
            return self.eval_chain_node(dot, first, cmd.args, final)
        if isinstance(first, IdentifierNode):
            return self.eval_function(dot, first, cmd, cmd.args, final)
        if isinstance(first, PipeNode):
            self.not_a_function(cmd.args, final)
            return self.eval_pipeline(dot, first)
        if isinstance(first, VariableNode):
            return self.eval_variable_node(dot, first, cmd.args, final)
        self.at(first)
        self.not_a_function(cmd.args, final)
        if isinstance(first, BoolNode):
            return first.value
        if isinstance(first, DotNode):
            return dot
        if isinstance(first, NilNode):
            raise self.errorf("nil is not a command")
        if isinstance(first, NumberNode):
            return first.value
        if isinstance(first, StringNode):
            return first.value
        raise self.errorf(f"can't evaluate command {first}")

    def not_a_function(self, args: list[Node], final: Any) -> None:
        if len(args) > 1 or final is not _MISSING:
            raise self.errorf(f"can't give argument to non-function {args[0]}")

    def eval_field_node(self, dot: Any, field: FieldNode, args: list[Node], final: Any) -> Any:
        self.at(field)
        return self.eval_field_chain(dot, dot, field, field.idents, args, final)

    def eval_chain_node(self, dot: Any, chain: ChainNode, args: list[Node], final: Any) -> Any:
        self.at(chain)
        if not chain.fields:
            raise self.errorf("internal error: no fields in evalChainNode")
        if isinstance(chain.node, NilNode):
            raise self.errorf(f"indirection through explicit nil in {chain}")
        pipe = self.eval_arg(dot, chain.node)
        return self.eval_field_chain(dot, pipe, chain, chain.fields, args, final)

    def eval_variable_node(self, dot: Any, var: VariableNode, args: list[Node], final: Any) -> Any:
        self.at(var)
        value = self.var_value(var.idents[0])
        if len(var.idents) == 1:
            self.not_a_function(args, final)
            return value
        return self.eval_field_chain(dot, value, var, var.idents[1:], args, final)

    def eval_field_chain(
        self, dot: Any, receiver: Any, node: Node, idents: list[str], args: list[Node], final: Any
    ) -> Any:
        n = len(idents)
        for i in range(n - 1):
            receiver = self.eval_field(dot, idents[i], node, [], _MISSING, receiver)
        return self.eval_field(dot, idents[n - 1], node, args, final, receiver)

    def eval_field(
        self, dot: Any, name: str, node: Node, args: list[Node], final: Any, receiver: Any
    ) -> Any:
        has_args = len(args) > 1 or final is not _MISSING
        if receiver is NIL_MAP:
            return NoValue
        if receiver is NoValue:
            if self.missingkey_error:
                raise self.errorf(f'nil data; no entry for key "{name}"')
            return NoValue
        if isinstance(receiver, GoStruct):
            if receiver.has_field(name):
                value = receiver._fields[name]
                if callable(value) and getattr(value, "_go_method", False):
                    call_args = [self.eval_arg(dot, a) for a in args[1:]]
                    if final is not _MISSING:
                        call_args.append(final)
                    return value(*call_args)
                if has_args:
                    raise self.errorf(f"{name} has arguments but cannot be invoked as function")
                return receiver.get_field(name)
            raise self.errorf(f"can't evaluate field {name} in type {receiver.go_type}")
        if isinstance(receiver, dict):
            if isinstance(receiver, HeaderMap) and name in receiver.methods:
                call_args = [self.eval_arg(dot, a) for a in args[1:]]
                if final is not _MISSING:
                    call_args.append(final)
                return receiver.methods[name](*call_args)
            if has_args:
                raise self.errorf(f"{name} is not a method but has arguments")
            if name in receiver:
                return receiver[name]
            if name == "ID" and "Id" in receiver and not isinstance(receiver, GoMap):
                return receiver["Id"]
            if self.missingkey_error and not isinstance(receiver, GoMap):
                raise self.errorf(f'map has no entry for key "{name}"')
            return NoValue
        if receiver is None:
            raise self.errorf(f"nil pointer evaluating interface {{}}.{name}")
        raise self.errorf(f"can't evaluate field {name} in type {go_type_name(receiver)}")

    def eval_function(
        self, dot: Any, node: IdentifierNode, cmd: CommandNode, args: list[Node], final: Any
    ) -> Any:
        self.at(node)
        name = node.name
        if name not in self.funcs:
            raise self.errorf(f'"{name}" is not a defined function')
        fn, min_args, max_args = self.funcs[name]
        arg_nodes = args[1:]
        nfixed = len(arg_nodes) + (0 if final is _MISSING else 1)
        if name in ("and", "or"):
            if nfixed < 1:
                raise self.errorf(f"wrong number of args for {name}: want at least 1 got 0")
            values: list[Any] = []
            result: Any = None
            for a in arg_nodes:
                result = self.eval_arg(dot, a)
                if _truth(result) == (name == "or"):
                    return result
                values.append(result)
            if final is not _MISSING:
                result = final
            return result
        if max_args >= 0 and min_args == max_args and nfixed != min_args:
            raise self.errorf(f"wrong number of args for {name}: want {min_args} got {nfixed}")
        if nfixed < min_args:
            raise self.errorf(f"wrong number of args for {name}: want at least {min_args} got {nfixed}")
        if max_args >= 0 and nfixed > max_args:
            raise self.errorf(f"wrong number of args for {name}: want {max_args} got {nfixed}")
        call_args = []
        for a in arg_nodes:
            call_args.append(self.eval_arg(dot, a))
        if final is not _MISSING:
            call_args.append(final)
        try:
            return fn(*call_args)
        except _FuncError as e:
            self.at(cmd)
            raise self.errorf(f"error calling {name}: {e}") from None
        except ExecError:
            raise
        except (TypeError, ValueError) as e:
            self.at(cmd)
            raise self.errorf(f"error calling {name}: {e}") from None

    def eval_arg(self, dot: Any, n: Node) -> Any:
        self.at(n)
        if isinstance(n, DotNode):
            return dot
        if isinstance(n, NilNode):
            return None
        if isinstance(n, FieldNode):
            return self.eval_field_node(dot, n, [n], _MISSING)
        if isinstance(n, VariableNode):
            return self.eval_variable_node(dot, n, [], _MISSING)
        if isinstance(n, PipeNode):
            return self.eval_pipeline(dot, n)
        if isinstance(n, IdentifierNode):
            return self.eval_function(dot, n, CommandNode([n], n.pos), [n], _MISSING)
        if isinstance(n, ChainNode):
            return self.eval_chain_node(dot, n, [], _MISSING)
        if isinstance(n, BoolNode):
            return n.value
        if isinstance(n, NumberNode):
            return n.value
        if isinstance(n, StringNode):
            return n.value
        raise self.errorf(f"can't handle {n} for arg")

    def print_value(self, node: Node, value: Any) -> None:
        self.at(node)
        self.out.append(go_sprint_value(value))


class _Missing:
    pass


_MISSING: Any = _Missing()


def _mark_range_pipes(node: Node) -> None:
    if isinstance(node, ListNode):
        for n in node.nodes:
            _mark_range_pipes(n)
    elif isinstance(node, BranchNode):
        if isinstance(node, RangeNode):
            node.pipe._range = True  # type: ignore[attr-defined]
        _mark_range_pipes(node.body)
        if node.else_list is not None:
            _mark_range_pipes(node.else_list)


class Template:
    """A parsed template. ``execute(data)`` returns the rendered text."""

    def __init__(
        self,
        text: str,
        name: str = "",
        funcs: Mapping[str, tuple[Callable[..., Any], int, int]] | None = None,
    ) -> None:
        self.name = name
        self.text = text
        self.funcs: dict[str, tuple[Callable[..., Any], int, int]] = dict(BUILTINS)
        self.funcs.update(DOCKER_FUNCS)
        if funcs:
            self.funcs.update(funcs)
        self.root = _Parser(name, text, self.funcs).parse()
        _mark_range_pipes(self.root)

    def execute(
        self,
        data: Any,
        *,
        funcs: Mapping[str, tuple[Callable[..., Any], int, int]] | None = None,
        missingkey_error: bool = False,
        partial: list[str] | None = None,
    ) -> str:
        """Render with ``data`` as dot. ``funcs`` overrides functions for this run.

        On error, the text produced so far is appended to ``partial`` (if given)
        before the :class:`ExecError` propagates, like Go writing to its writer.
        """
        table = self.funcs
        if funcs:
            table = dict(self.funcs)
            table.update(funcs)
        state = _State(self, table, missingkey_error)
        state.push("$", data)
        try:
            state.walk(data, self.root)
        except (_Break, _Continue):  # pragma: no cover - parser forbids it
            pass
        except ExecError:
            if partial is not None:
                partial.append("".join(state.out))
            raise
        except RecursionError:
            raise ExecError(f"template: {self.name}: exceeded maximum template depth") from None
        return "".join(state.out)


def parse(text: str, name: str = "", funcs: Mapping[str, tuple[Callable[..., Any], int, int]] | None = None) -> Template:
    """Parse ``text`` with the docker template functions (``templates.Parse``)."""
    return Template(text, name, funcs)


def go_method(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a callable stored in a GoStruct as a method that takes arguments."""
    fn._go_method = True  # type: ignore[attr-defined]
    return fn
