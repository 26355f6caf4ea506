"""Dockerfile text → a flat list of instruction nodes (BuildKit's `parser.Parse`, v0.22).

The grammar is line based:

- Parser directives (`# syntax=…`, `# escape=…`, `# check=…`) are only read at the very top,
  before any instruction, comment or blank line; keys are case-insensitive, each at most once;
  an unknown key ends the directive block and is just a comment.
- A line ending in the escape character (default `\\`, or `` ` `` with `# escape=```) continues
  on the next one. Comment lines inside a continuation are dropped; blank ones are too (with a
  warning). Only the first physical line has its leading blanks removed.
- `#` starts a comment only as the first non-blank character of a line.
- The keyword is case-insensitive; `--flag` words right after it are split off; each keyword
  then has its own argument parser (JSON-or-string, name=value pairs, blank-split words, …).
- RUN, COPY and ADD (also as an ONBUILD trigger) may carry heredocs: `<<EOF`, `<<-EOF`
  (leading tabs of the body are stripped later), quoted `<<"EOF"` (no expansion), several per
  line; their bodies follow the instruction line.

Unknown keywords are kept (the typed layer rejects them, naming the line).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from wharfie.build.dockerfile.errors import DockerfileError
from wharfie.build.dockerfile.gostd import (
    is_space,
    quote,
    quote_strings,
    runes,
    trim_left_space,
    trim_space,
)
from wharfie.build.dockerfile.shell import Lexer, ShellError

DEFAULT_ESCAPE = "\\"
MAX_LINE = 65536  # bufio.Scanner's largest token: longer lines fail the parse

_WHITESPACE = re.compile(r"[\t\v\f\r ]+")
_HEREDOC = re.compile(r"([0-9]*)<<(-?)[\t\n\f\r ]*([^<]*)", re.DOTALL)
_LEADING_TABS = re.compile(r"^\t+", re.MULTILINE)
_DIRECTIVE = re.compile(r"#[\t\n\f\r ]*([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*"
                        r"(.+?)[\t\n\f\r ]*\Z")
_KNOWN_DIRECTIVES = ("syntax", "escape", "check")

_HEREDOC_COMMANDS = frozenset({"add", "copy", "run"})
_NOT_STRING_ARRAY = "when using JSON array syntax, arrays must be comprised of strings only"


class _ParseError(Exception):
    """A parse failure before its line is attached."""


@dataclass(frozen=True)
class Heredoc:
    """A here-document attached to an instruction: `<<[-]NAME` and its body."""

    name: str
    content: str = ""
    expand: bool = True  # False when any part of the delimiter was quoted
    chomp: bool = False  # `<<-`: leading tabs are stripped from the body when used
    fd: int = 0  # `3<<EOF`

    @property
    def chomped(self) -> str:
        """The body as used: leading tabs removed from each line for `<<-`."""
        return chomp(self.content) if self.chomp else self.content


@dataclass
class Node:
    """One instruction as the parser sees it (BuildKit's top-level `parser.Node`).

    `args` are the argument tokens (BuildKit's `Next` chain). ENV and LABEL give
    key, value, separator triples (separator `"="`, or `""` for the legacy `ENV k v` form).
    For ONBUILD, `sub` is the trigger instruction and `args` is empty; an unknown keyword
    has the single argument `""`.
    """

    cmd: str
    keyword: str
    original: str
    args: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    json: bool = False
    heredocs: list[Heredoc] = field(default_factory=list)
    start_line: int = 0
    end_line: int = 0
    sub: Node | None = None
    comments: list[str] = field(default_factory=list)

    def can_contain_heredoc(self) -> bool:
        node = self.sub if self.cmd == "onbuild" and self.sub is not None else self
        return node.cmd in _HEREDOC_COMMANDS and not node.json

    def dump(self) -> str:
        """BuildKit's `Node.Dump()` s-expression, e.g. `(copy ["--from=a"] "x" "/y")`."""
        out = self.cmd
        if self.flags:
            out += " " + quote_strings(self.flags)
        if self.sub is not None:
            out += " (" + self.sub.dump() + ")"
        for arg in self.args:
            out += " " + quote(arg)
        return trim_space(out)


@dataclass(frozen=True)
class Directive:
    name: str
    value: str
    line: int


@dataclass(frozen=True)
class ParseWarning:
    """A parse-time warning (empty continuation lines), as BuildKit reports it."""

    short: str
    detail: str
    url: str
    line: int


@dataclass
class ParseResult:
    nodes: list[Node]
    escape: str = DEFAULT_ESCAPE
    directives: list[Directive] = field(default_factory=list)
    warnings: list[ParseWarning] = field(default_factory=list)
    file: str = "Dockerfile"

    def directive(self, name: str) -> str | None:
        for d in self.directives:
            if d.name == name:
                return d.value
        return None

    def dump(self) -> str:
        """BuildKit's AST dump: one `(cmd …)` per line."""
        return "\n".join(f"({n.dump()})" for n in self.nodes)


def chomp(content: str) -> str:
    """Strip leading tabs from every line of a `<<-` heredoc body."""
    return _LEADING_TABS.sub("", content)


# --- directives and line handling ---------------------------------------------------

class _Directives:
    """The escape token and the directive reader's state (BuildKit's `directives`)."""

    def __init__(self) -> None:
        self.found: list[Directive] = []
        self.seen: set[str] = set()
        self.done = False
        self.line = 0
        self.set_escape(DEFAULT_ESCAPE)

    def set_escape(self, token: str) -> None:
        if token not in ("`", "\\"):
            raise _ParseError(f"invalid escape token '{token}' does not match ` or \\")
        self.escape = token
        esc = re.escape(token)
        # The escape token as the last non-blank character continues the line, unless it
        # is itself escaped (BuildKit's regex; it cannot see `\\\` either).
        self.continuation = re.compile(f"([^{esc}]){esc}[ \\t]*\\Z|^{esc}[ \\t]*\\Z")

    def read(self, line: str) -> bool:
        """Record `line` if it is a directive; True if it was one."""
        self.line += 1
        if self.done:
            return False
        m = _DIRECTIVE.match(line)
        if m is None or m.group(1).lower() not in _KNOWN_DIRECTIVES:
            self.done = True
            return False
        key = m.group(1).lower()
        if key in self.seen:
            raise _ParseError(f"only one {key} parser directive can be used")
        self.seen.add(key)
        if key == "escape":
            self.set_escape(m.group(2))
        self.found.append(Directive(key, m.group(2), self.line))
        return True

    def trim_continuation(self, line: str) -> tuple[str, bool]:
        """Remove a trailing continuation token; the bool is True at the end of the line."""
        if self.continuation.search(line) is None:
            return line, True
        return self.continuation.sub(lambda m: m.group(1) or "", line), False


def _trim_newline(line: str) -> str:
    return line.rstrip("\r\n")


def _is_comment(line: str) -> bool:
    return trim_left_space(line).startswith("#")


def _process_line(d: _Directives, raw: str, strip_left: bool) -> tuple[str, bool]:
    """Trim a physical line, read a directive from it, blank it if it is a comment."""
    token = _trim_newline(raw)
    if strip_left:
        token = trim_left_space(token)
    was_directive = d.read(token)
    return ("" if _is_comment(token) else token), was_directive


class _Lines:
    """Physical lines with their `\\n`, stopping (and remembering why) at an overlong one."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.too_long = False

    def next(self) -> str | None:
        if self.too_long or self.pos >= len(self.text):
            return None
        end = self.text.find("\n", self.pos)
        end = len(self.text) if end < 0 else end + 1
        line = self.text[self.pos:end]
        if len(line) * 4 >= MAX_LINE and self._overlong(line):
            self.too_long = True
            return None
        self.pos = end
        return line

    @staticmethod
    def _overlong(line: str) -> bool:
        size = len(line.encode("utf-8", "surrogateescape"))
        return size > MAX_LINE if line.endswith("\n") else size >= MAX_LINE


# --- per-instruction argument parsers -----------------------------------------------

@dataclass
class _Args:
    args: list[str] = field(default_factory=list)
    json: bool = False
    sub: Node | None = None


def _go_bytes_to_str(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


_SPACES, _WORD, _QUOTE = 0, 1, 2


def extract_flags(line: str, escape: str) -> tuple[str, list[str]]:
    """Split leading `--flag[=value]` words off `line` (BuildKit's extractBuilderFlags).

    BuildKit walks this part byte by byte, so a non-ASCII byte becomes its Latin-1 rune
    (and 0x85/0xA0 bytes count as blanks); we keep that to get the same flags.
    """
    data = line.encode("utf-8", "surrogateescape")
    esc, n = ord(escape), len(data)
    words: list[str] = []
    buf: list[str] = []
    phase, quote_ch, blank_ok, pos = _SPACES, 0, False, -1
    while (pos := pos + 1) <= n:
        ch = data[pos] if pos < n else 0
        if phase == _SPACES:
            if pos == n:
                break
            if is_space(chr(ch)):
                continue
            if ch != 0x2D or pos + 1 == n or data[pos + 1] != 0x2D:  # not `--`
                return _go_bytes_to_str(data[pos:]), words
            phase = _WORD
        if pos == n:
            word = "".join(buf)
            if word != "--" and (blank_ok or word):
                words.append(word)
            break
        if phase == _WORD:
            if is_space(chr(ch)):
                word, phase = "".join(buf), _SPACES
                if word == "--":
                    return _go_bytes_to_str(data[pos:]), words
                if blank_ok or word:
                    words.append(word)
                buf, blank_ok = [], False
                continue
            if ch in (0x22, 0x27):
                quote_ch, blank_ok, phase = ch, True, _QUOTE
                continue
        elif ch == quote_ch:
            phase = _WORD
            continue
        if ch == esc:
            if pos + 1 == n:
                phase = _WORD  # a trailing escape is dropped (and closes a quote)
                continue
            pos += 1
            ch = data[pos]
        buf.append(chr(ch))
    return "", words


def split_command(line: str, escape: str) -> tuple[str, list[str], str]:
    """`RUN --x=1 echo` → ("RUN", ["--x=1"], "echo")."""
    parts = _WHITESPACE.split(trim_space(line), maxsplit=1)
    flags: list[str] = []
    rest = ""
    if len(parts) == 2:
        rest, flags = extract_flags(parts[1], escape)
    return parts[0], flags, trim_space(rest)


def parse_words(rest: str, escape: str) -> list[str]:
    """Blank-separated words, quotes and escapes kept (BuildKit's parseWords)."""
    rest = runes(rest)
    words: list[str] = []
    buf: list[str] = []
    phase, quote_ch, blank_ok, pos, n = _SPACES, "", False, -1, len(rest)
    while (pos := pos + 1) <= n:
        ch = rest[pos] if pos < n else ""
        if phase == _SPACES:
            if pos == n:
                break
            if is_space(ch):
                continue
            phase = _WORD
        if pos == n:
            if blank_ok or buf:
                words.append("".join(buf))
            break
        if phase == _WORD:
            if is_space(ch):
                if blank_ok or buf:
                    words.append("".join(buf))
                buf, blank_ok, phase = [], False, _SPACES
                continue
            if ch in ("'", '"'):
                quote_ch, blank_ok, phase = ch, True, _QUOTE
            if ch == escape:
                if pos + 1 == n:
                    continue  # a trailing escape is dropped
                buf.append(ch)
                pos += 1
                ch = rest[pos]
            buf.append(ch)
            continue
        if ch == quote_ch:
            phase = _WORD
        if ch == escape and quote_ch != "'":
            if pos + 1 == n:
                phase = _WORD
                continue
            buf.append(ch)
            pos += 1
            ch = rest[pos]
        buf.append(ch)
    return words


def _parse_ignore(rest: str, d: _Directives) -> _Args:
    return _Args([""])  # an unknown keyword keeps one empty argument, as in BuildKit


def _parse_sub_command(rest: str, d: _Directives) -> _Args:
    if rest == "":
        return _Args()
    return _Args(sub=_node_from_line(rest, d, []))


def _parse_name_val(rest: str, key: str, d: _Directives) -> _Args:
    words = parse_words(rest, d.escape)
    if not words:
        return _Args()
    if "=" not in words[0]:  # the legacy `ENV name value` form: the rest is the value
        parts = _WHITESPACE.split(rest, maxsplit=1)
        if len(parts) < 2:
            raise _ParseError(f"{key} must have two arguments")
        return _Args([parts[0], parts[1], ""])
    args: list[str] = []
    for word in words:
        if "=" not in word:
            raise _ParseError(f"Syntax error - can't find = in {quote(word)}. "
                              "Must be of the form: name=value")
        name, _, value = word.partition("=")
        args += [name, value, "="]
    return _Args(args)


def _parse_env(rest: str, d: _Directives) -> _Args:
    return _parse_name_val(rest, "ENV", d)


def _parse_label(rest: str, d: _Directives) -> _Args:
    return _parse_name_val(rest, "LABEL", d)


def _parse_name_or_name_val(rest: str, d: _Directives) -> _Args:
    return _Args(parse_words(rest, d.escape))


def _parse_whitespace_delimited(rest: str, d: _Directives) -> _Args:
    return _Args(_WHITESPACE.split(rest) if rest else [])


def _parse_string(rest: str, d: _Directives) -> _Args:
    return _Args([rest] if rest else [])


def _reject_constant(name: str) -> object:
    raise ValueError(name)  # Go's JSON has no NaN/Infinity


def _parse_json(rest: str) -> list[str] | None:
    """The arguments of an exec-form array, or None when `rest` is not a JSON array."""
    rest = trim_left_space(rest)
    if not rest.startswith("["):
        return None
    try:
        value = json.loads(rest, parse_constant=_reject_constant)
    except (ValueError, RecursionError):  # Go gives up at depth 10000 too: not JSON
        return None
    if not isinstance(value, list):
        return None
    if not all(isinstance(v, str) for v in value):
        raise _ParseError(_NOT_STRING_ARRAY)
    return [runes(v) for v in value]


def _parse_maybe_json(rest: str, d: _Directives) -> _Args:
    if rest == "":
        return _Args()
    args = _parse_json(rest)
    return _Args(args, json=True) if args is not None else _Args([rest])


def _parse_maybe_json_to_list(rest: str, d: _Directives) -> _Args:
    args = _parse_json(rest)
    if args is not None:
        return _Args(args, json=True)
    return _parse_whitespace_delimited(rest, d)


def _parse_health_config(rest: str, d: _Directives) -> _Args:
    # BuildKit finds the type word byte by byte, like extract_flags.
    data = rest.encode("utf-8", "surrogateescape")
    sep = 0
    while sep < len(data) and not is_space(chr(data[sep])):
        sep += 1
    nxt = sep
    while nxt < len(data) and is_space(chr(data[nxt])):
        nxt += 1
    if sep == 0:
        return _Args()
    cmd = _parse_maybe_json(_go_bytes_to_str(data[nxt:]), d)
    return _Args([_go_bytes_to_str(data[:sep]), *cmd.args], json=cmd.json)


_DISPATCH: dict[str, Callable[[str, _Directives], _Args]] = {
    "add": _parse_maybe_json_to_list,
    "arg": _parse_name_or_name_val,
    "cmd": _parse_maybe_json,
    "copy": _parse_maybe_json_to_list,
    "entrypoint": _parse_maybe_json,
    "env": _parse_env,
    "expose": _parse_whitespace_delimited,
    "from": _parse_whitespace_delimited,
    "healthcheck": _parse_health_config,
    "label": _parse_label,
    "maintainer": _parse_string,
    "onbuild": _parse_sub_command,
    "run": _parse_maybe_json,
    "shell": _parse_maybe_json,
    "stopsignal": _parse_string,
    "user": _parse_string,
    "volume": _parse_maybe_json_to_list,
    "workdir": _parse_string,
}

INSTRUCTIONS = tuple(sorted(_DISPATCH))


def _node_from_line(line: str, d: _Directives, comments: list[str]) -> Node:
    keyword, flags, rest = split_command(line, d.escape)
    parsed = _DISPATCH.get(keyword.lower(), _parse_ignore)(rest, d)
    return Node(cmd=keyword.lower(), keyword=keyword, original=line, args=parsed.args,
                flags=flags, json=parsed.json, sub=parsed.sub, comments=list(comments))


# --- heredocs -----------------------------------------------------------------------

def parse_heredoc(word: str) -> Heredoc | None:
    """The heredoc a word like `<<-"EOF"` or `3<<EOF` opens, or None if it opens none."""
    m = _HEREDOC.fullmatch(word)
    if m is None or m.group(3) == "":
        return None
    fd = min(int(m.group(1)), (1 << 64) - 1) if m.group(1) else 0
    rest = m.group(3)
    # Lex the delimiter with and without quote removal: if they differ, part of it was
    # quoted and the body must not be expanded.
    words = Lexer("\\", skip_unset_env=True).process_words(rest, {})
    if len(words) != 1:
        return None
    raw = Lexer("\\", skip_unset_env=True, raw_quotes=True).process_words(rest, {})
    if len(raw) != len(words):
        raise _ParseError(f"internal lexing of heredoc produced inconsistent results: {rest}")
    quotes = words[0].count("'") + words[0].count('"')
    raw_quotes = raw[0].count("'") + raw[0].count('"')
    return Heredoc(name=words[0], expand=quotes == raw_quotes, chomp=m.group(2) == "-", fd=fd)


def try_parse_heredoc(word: str) -> Heredoc | None:
    """parse_heredoc with errors read as "not a heredoc" (BuildKit's MustParseHeredoc)."""
    try:
        return parse_heredoc(word)
    except (_ParseError, ShellError):
        return None


def _heredocs_from_line(line: str) -> list[Heredoc]:
    lexer = Lexer("\\", raw_quotes=True, raw_escapes=True, skip_unset_env=True)
    try:
        words = lexer.process_words(line, {})
    except ShellError:
        words = []  # BuildKit ignores the error: such a line just has no heredocs
    found = []
    for word in words:
        try:
            heredoc = parse_heredoc(word)
        except ShellError as exc:
            raise _ParseError(exc.message) from None
        if heredoc is not None:
            found.append(heredoc)
    return found


def _read_heredoc(lines: _Lines, heredoc: Heredoc) -> tuple[Heredoc | None, int]:
    """Read a heredoc body up to its terminator: (heredoc or None at EOF, lines read)."""
    body: list[str] = []
    count = 0
    while (raw := lines.next()) is not None:
        count += 1
        candidate = _trim_newline(raw)
        if heredoc.chomp:
            candidate = candidate.lstrip("\t")
        if candidate == heredoc.name:
            return Heredoc(heredoc.name, "".join(body), heredoc.expand, heredoc.chomp,
                           heredoc.fd), count
        body.append(raw)
    return None, count


# --- the parser ---------------------------------------------------------------------

def _decode(data: str | bytes) -> str:
    if isinstance(data, bytes):
        return data.decode("utf-8", "surrogateescape")
    return data


class _Parser:
    def __init__(self, text: str, file: str) -> None:
        self.file = file
        self.lines = _Lines(text)
        self.d = _Directives()
        self.current = 0
        self.comments: list[str] = []
        self.nodes: list[Node] = []
        self.warnings: list[ParseWarning] = []

    def fail(self, message: str, line: int, end_line: int | None = None) -> DockerfileError:
        return DockerfileError.parse_failure(message, file=self.file, line=line,
                                             end_line=end_line)

    def run(self) -> ParseResult:
        while (raw := self.lines.next()) is not None:
            if self.current == 0:
                raw = raw.removeprefix("\ufeff")
            self._instruction(raw)
        if not self.nodes:
            raise self.fail("file with no instructions", max(self.current, 1))
        if self.lines.too_long:
            raise self.fail(f"dockerfile line greater than max allowed size of {MAX_LINE - 1}",
                            self.current + 1)
        return ParseResult(self.nodes, self.d.escape, self.d.found, self.warnings, self.file)

    def _note_comment(self, raw: str) -> None:
        if _is_comment(raw):
            text = trim_space(raw[1:])
            if text:
                self.comments.append(text)
            else:
                self.comments = []

    def _instruction(self, raw: str) -> None:
        self._note_comment(raw)
        try:
            line, was_directive = _process_line(self.d, raw, True)
        except _ParseError as exc:
            raise self.fail(str(exc), self.current + 1) from None
        if was_directive:
            self.comments.pop()
        self.current += 1
        start = self.current
        line, at_end = self.d.trim_continuation(line)
        if at_end and line == "":
            return
        joined = self._continue(line, at_end)
        try:
            node = _node_from_line(joined, self.d, self.comments)
            if node.can_contain_heredoc() and "<<" in joined:
                node.heredocs = self._heredocs(joined)
        except _ParseError as exc:
            raise self.fail(str(exc), start, self.current) from None
        node.start_line, node.end_line = start, self.current
        self.nodes.append(node)
        self.comments = []

    def _continue(self, line: str, at_end: bool) -> str:
        """Join continuation lines onto `line`."""
        parts = [line]
        empty_continuation = False
        while not at_end and (raw := self.lines.next()) is not None:
            try:
                text, _ = _process_line(self.d, raw, False)
            except _ParseError as exc:
                raise self.fail(str(exc), self.current + 1) from None
            self.current += 1
            if _is_comment(raw):
                continue
            if trim_left_space(text) == "":
                empty_continuation = True
                continue
            text, at_end = self.d.trim_continuation(text)
            parts.append(text)
        joined = "".join(parts)
        if empty_continuation:
            self.warnings.append(ParseWarning(
                short="Empty continuation line found in: " + joined,
                detail="Empty continuation lines will become errors in a future release",
                url="https://docs.docker.com/go/dockerfile/rule/no-empty-continuation/",
                line=self.current))
        return joined

    def _heredocs(self, joined: str) -> list[Heredoc]:
        found = []
        for heredoc in _heredocs_from_line(joined):
            done, count = _read_heredoc(self.lines, heredoc)
            self.current += count
            if done is None:
                raise _ParseError("unterminated heredoc")
            found.append(done)
        return found


def parse(data: str | bytes, *, file: str = "Dockerfile") -> ParseResult:
    """Parse a Dockerfile; DockerfileError names the file and line of any failure."""
    text = _decode(data)
    if text == "":
        raise DockerfileError(f"the Dockerfile ({file}) cannot be empty", file=file)
    return _Parser(text, file).run()
