"""Docker's shell lexer: variable substitution and word splitting for Dockerfile arguments.

This is the behaviour of BuildKit's `shell.Lex` (`ProcessWord` / `ProcessWords`), which the
legacy builder applies to ADD, COPY, ENV, EXPOSE, FROM, LABEL, STOPSIGNAL, USER, VOLUME,
WORKDIR (and ARG) arguments before dispatching them:

- `$name`, `${name}`; `\\$` is a literal dollar; single quotes are literal, double quotes keep
  `$` live and let the escape character escape only `"`, `$` and itself.
- `${v:-w}` `${v-w}` `${v:+w}` `${v+w}` `${v:?msg}` `${v?msg}`, `${v#p}` `${v##p}` `${v%p}`
  `${v%%p}` (shortest/longest prefix/suffix removal), `${v/p/r}` `${v//p/r}`; patterns are
  globs with `?` and `*`, `\\?`/`\\*` literal. `${v:#…}` `${v:%…}` and anything else are
  "unsupported modifier" errors.
- Positional (`$1`) and special (`$@ $* $# $? $- $$ $! $0`) parameters are never set.

Quirks kept on purpose because BuildKit has them: `ProcessWords` loses the part of a word
that precedes a `${v:-…}`-style modifier (the nested scan resets a shared buffer), a `<<`
followed by blanks stays glued to the next word (heredoc markers), and a regex replacement
in `${v//p/r}` expands `$0`/`${name}` the way Go's `Regexp.ReplaceAllString` does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from wharfie.build.dockerfile.errors import DockerfileError
from wharfie.build.dockerfile.gostd import is_space, quote, runes

Env = Mapping[str, str] | Iterable[str]

_SPECIAL_PARAMS = frozenset("@*#?-$!0")
_REGEX_SPECIAL = frozenset("[]{}.+()|^$")


class ShellError(DockerfileError):
    """Variable substitution failed (`failed to process "…": …`). Has no line until `at()`."""


class _LexError(Exception):
    """An inner lexer failure; wrapped once with the source word at the top."""


def env_mapping(env: Env) -> dict[str, str]:
    """`["K=V", …]` (last one wins, a bare `K` is empty) or a mapping, as a dict."""
    if isinstance(env, Mapping):
        return dict(env)
    out: dict[str, str] = {}
    for item in env:
        key, _, value = item.partition("=")
        out[key] = value
    return out


@dataclass
class WordResult:
    """One processed word plus the variable names it looked up (found / not found)."""

    result: str
    words: list[str]
    matched: set[str] = field(default_factory=set)
    unmatched: set[str] = field(default_factory=set)


class Lexer:
    """The lexer, configured like BuildKit's `shell.Lex` (the flags are for heredoc parsing)."""

    def __init__(self, escape: str = "\\", *, raw_quotes: bool = False,
                 raw_escapes: bool = False, skip_process_quotes: bool = False,
                 skip_unset_env: bool = False) -> None:
        self.escape = escape
        self.raw_quotes = raw_quotes
        self.raw_escapes = raw_escapes
        self.skip_process_quotes = skip_process_quotes
        self.skip_unset_env = skip_unset_env

    def process(self, word: str, env: Env) -> WordResult:
        """Expand `word`; `result` keeps blanks, `words` is the blank-split form."""
        state = _ShellWord(self, word, env_mapping(env))
        try:
            result, words = state.stop_on(None, self.raw_escapes)
        except _LexError as exc:
            message = f"failed to process {quote(word)}: {exc}"
            raise ShellError(message) from None
        return WordResult(result, words, state.matched, state.unmatched)

    def process_word(self, word: str, env: Env) -> str:
        """BuildKit's ProcessWord: one string, blanks preserved."""
        return self.process(word, env).result

    def process_words(self, word: str, env: Env) -> list[str]:
        """BuildKit's ProcessWords: the expansion split on blanks outside quotes."""
        return self.process(word, env).words


class Expander:
    """Expansion against one environment snapshot: what an instruction's `expand()` takes.

    One snapshot per instruction is what makes `ENV a=x b=$a` read the *old* `a`.
    """

    def __init__(self, env: Env, *, escape: str = "\\") -> None:
        self.env = env_mapping(env)
        self.lexer = Lexer(escape)

    def word(self, word: str) -> str:
        return self.lexer.process_word(word, self.env)

    def words(self, word: str) -> list[str]:
        return self.lexer.process_words(word, self.env)


def expand(word: str, env: Env, *, escape: str = "\\") -> str:
    """Expand variables in one word (BuildKit's ProcessWord)."""
    return Lexer(escape).process_word(word, env)


def expand_words(word: str, env: Env, *, escape: str = "\\") -> list[str]:
    """Expand and split into words (BuildKit's ProcessWords)."""
    return Lexer(escape).process_words(word, env)


class _Scanner:
    """Go's text/scanner as the lexer uses it: one rune at a time, a leading BOM skipped."""

    def __init__(self, text: str) -> None:
        self.text = runes(text[1:] if text.startswith("\ufeff") else text)
        self.pos = 0

    def peek(self) -> str | None:
        return self.text[self.pos] if self.pos < len(self.text) else None

    def next(self) -> str | None:
        if self.pos >= len(self.text):
            return None
        self.pos += 1
        return self.text[self.pos - 1]


class _Words:
    """Accumulates blank-separated words; the buffer is shared like BuildKit's."""

    def __init__(self, buf: list[str]) -> None:
        self.buf = buf
        self.words: list[str] = []
        self.in_word = False

    def add_char(self, ch: str) -> None:
        if not is_space(ch):
            self.add_raw_char(ch)
        elif self.in_word and self.buf:
            self.words.append("".join(self.buf))
            self.buf.clear()
            self.in_word = False

    def add_raw_char(self, ch: str) -> None:
        self.buf.append(ch)
        self.in_word = True

    def add_string(self, s: str) -> None:
        for ch in s:
            self.add_char(ch)

    def add_raw_string(self, s: str) -> None:
        self.buf.extend(s)
        self.in_word = True

    def finish(self) -> list[str]:
        if self.buf:
            self.words.append("".join(self.buf))
            self.buf.clear()
            self.in_word = False
        return self.words


class _ShellWord:
    """The state of processing one word (BuildKit's shellWord)."""

    def __init__(self, lexer: Lexer, word: str, env: dict[str, str]) -> None:
        self.lx = lexer
        self.sc = _Scanner(word)
        self.env = env
        self.raw_escapes = lexer.raw_escapes
        self.shared_buf: list[str] = []
        self.matched: set[str] = set()
        self.unmatched: set[str] = set()

    def get_env(self, name: str) -> tuple[str, bool]:
        if name in self.env:
            self.matched.add(name)
            return self.env[name], True
        self.unmatched.add(name)
        return "", False

    def stop_on(self, stop: str | None, raw_escapes: bool) -> tuple[str, list[str]]:
        """Scan up to `stop` (consumed) or the end; returns the text and its words."""
        saved, self.raw_escapes = self.raw_escapes, raw_escapes
        try:
            return self._stop_on(stop)
        finally:
            self.raw_escapes = saved

    def _stop_on(self, stop: str | None) -> tuple[str, list[str]]:
        result: list[str] = []
        self.shared_buf.clear()  # BuildKit resets the one buffer all nesting levels share
        words = _Words(self.shared_buf)
        sc = self.sc
        while (ch := sc.peek()) is not None:
            if stop is not None and ch == stop:
                sc.next()
                return "".join(result), words.finish()
            special = self._special(ch)
            if special is not None:
                text = special()
                result.append(text)
                if ch == "$":
                    words.add_string(text)
                else:
                    words.add_raw_string(text)
                continue
            sc.next()
            if ch == self.lx.escape:
                if self.raw_escapes:
                    words.add_raw_char(ch)
                    result.append(ch)
                escaped = sc.next()
                if escaped is None:
                    break
                ch = escaped
                words.add_raw_char(ch)
            else:
                words.add_char(ch)
            result.append(ch)
        if stop is not None:
            raise _LexError(f"unexpected end of statement while looking for matching {stop}")
        return "".join(result), words.finish()

    def _special(self, ch: str) -> Callable[[], str] | None:
        if ch == "$":
            return self.dollar
        if ch == "<":
            return self.possible_heredoc
        if not self.lx.skip_process_quotes:
            if ch == "'":
                return self.single_quote
            if ch == '"':
                return self.double_quote
        return None

    def single_quote(self) -> str:
        # Everything up to the next ' is literal; a ' cannot be escaped inside.
        raw = self.lx.raw_quotes
        out = ["'"] if raw else []
        self.sc.next()
        while True:
            ch = self.sc.next()
            if ch is None:
                raise _LexError(
                    "unexpected end of statement while looking for matching single-quote")
            if ch == "'":
                if raw:
                    out.append(ch)
                return "".join(out)
            out.append(ch)

    def double_quote(self) -> str:
        # $ stays live; the escape character only escapes ", $ and itself.
        raw, sc, esc = self.lx.raw_quotes, self.sc, self.lx.escape
        out = ['"'] if raw else []
        sc.next()
        while True:
            peek = sc.peek()
            if peek is None:
                raise _LexError(
                    "unexpected end of statement while looking for matching double-quote")
            if peek == '"':
                sc.next()
                if raw:
                    out.append('"')
                return "".join(out)
            if peek == "$":
                out.append(self.dollar())
                continue
            ch = sc.next()
            assert ch is not None
            if ch == esc:
                if self.raw_escapes:
                    out.append(ch)
                following = sc.peek()
                if following is None:
                    continue  # a trailing escape is dropped (then the quote is unterminated)
                if following in ('"', "$", esc):
                    ch = sc.next()
                    assert ch is not None
            out.append(ch)

    def possible_heredoc(self) -> str:
        # `<<` swallows the blanks after it so `<< EOF` stays one word for heredoc parsing.
        sc = self.sc
        sc.next()
        if sc.peek() != "<":
            return "<"
        sc.next()
        blanks = []
        while (ch := sc.peek()) is not None and ch in "\t\r ":
            blanks.append(ch)
            sc.next()
        return "<<" + "".join(blanks)

    def name(self) -> str:
        """A variable name: digits (positional), one special character, or [letters_digits]."""
        sc, out = self.sc, list[str]()
        while (ch := sc.peek()) is not None:
            if not out and ch.isdecimal():
                while (d := sc.peek()) is not None and d.isdecimal():
                    out.append(d)
                    sc.next()
                return "".join(out)
            if not out and ch in _SPECIAL_PARAMS:
                sc.next()
                return ch
            if not (ch.isalpha() or ch.isdecimal() or ch == "_"):
                break
            out.append(ch)
            sc.next()
        return "".join(out)

    def dollar(self) -> str:
        sc = self.sc
        sc.next()
        if sc.peek() != "{":
            name = self.name()
            if name == "":
                return "$"
            value, found = self.get_env(name)
            if not found and self.lx.skip_unset_env:
                return "$" + name
            return value
        sc.next()
        peek = sc.peek()
        if peek is None:
            raise _LexError("syntax error: missing '}'")
        if peek in "{}:":
            raise _LexError("syntax error: bad substitution")
        name = self.name()
        ch = sc.next()
        if ch == "}":
            value, found = self.get_env(name)
            if not found and self.lx.skip_unset_env:
                return "${" + name + "}"
            return value
        if ch == "/":
            return self._replace(name)
        if ch == ":" or ch in ("+", "-", "?", "#", "%"):
            return self._modifier(name, ch)
        raise _LexError(f"unsupported modifier ({_go_rune(ch)}) in substitution")

    def _modifier(self, name: str, ch: str) -> str:
        null_is_unset = ch == ":"
        chs = ch
        if null_is_unset:
            nxt = self.sc.next()
            chs += _go_rune(nxt)
            ch = nxt if nxt is not None else "\ufffd"
        raw = ch in ("#", "%")
        if null_is_unset and raw:
            raise _LexError(f"unsupported modifier ({chs}) in substitution")
        try:
            word, _ = self.stop_on("}", raw)
        except _LexError:
            if self.sc.peek() is None:
                raise _LexError("syntax error: missing '}'") from None
            raise
        value, is_set = self.get_env(name)
        if self.lx.skip_unset_env and not is_set:
            return "${" + name + chs + word + "}"
        return _apply_modifier(name, ch, chs, word, value, is_set, null_is_unset)

    def _replace(self, name: str) -> str:
        sc = self.sc
        replace_all = sc.peek() == "/"
        if replace_all:
            sc.next()
        try:
            pattern, _ = self.stop_on("/", True)
        except _LexError:
            if sc.peek() is None:
                raise _LexError("syntax error: missing '/' in ${}") from None
            raise
        try:
            replacement, _ = self.stop_on("}", True)
        except _LexError:
            if sc.peek() is None:
                raise _LexError("syntax error: missing '}'") from None
            raise
        value, is_set = self.get_env(name)
        if self.lx.skip_unset_env and not is_set:
            return "${" + name + "/" + pattern + "/" + replacement + "}"
        regex = _pattern_regex(pattern, greedy=True, anchored=False)
        if replace_all:
            return _go_replace_all(regex, value, replacement)
        m = regex.search(value)
        return value[:m.start()] + replacement + value[m.end():] if m else value


def _go_rune(ch: str | None) -> str:
    # Go's string(rune(-1)) for the end of input is U+FFFD.
    return "\ufffd" if ch is None else ch


def _apply_modifier(name: str, ch: str, chs: str, word: str, value: str, is_set: bool,
                    null_is_unset: bool) -> str:
    empty = not is_set or (null_is_unset and value == "")
    if ch == "-":
        return word if empty else value
    if ch == "+":
        return "" if empty else word
    if ch == "?":
        if not is_set:
            raise _LexError(f"{name}: {word or 'is not allowed to be unset'}")
        if null_is_unset and value == "":
            raise _LexError(f"{name}: {word or 'is not allowed to be empty'}")
        return value
    if ch in ("#", "%"):
        greedy = word.startswith(ch)
        if greedy:
            word = word[1:]
        if ch == "%":
            return _trim_suffix(word, value, greedy)
        return _trim_prefix(word, value, greedy)
    raise _LexError(f"unsupported modifier ({chs}) in substitution")


def _pattern_regex(pattern: str, *, greedy: bool, anchored: bool) -> re.Pattern[str]:
    """A shell glob (`*`, `?`, `\\` escapes; no brackets) as a regular expression."""
    try:
        return re.compile(_pattern_source(pattern, greedy, anchored))
    except _LexError as exc:
        raise _LexError(f"invalid pattern ({pattern}) in substitution: {exc}") from None


def _pattern_source(pattern: str, greedy: bool, anchored: bool) -> str:
    sc = _Scanner(pattern)
    out = ["^"] if anchored else []
    star = ".*" if greedy else ".*?"
    while (tok := sc.next()) is not None:
        if tok == "*":
            out.append(star)
        elif tok == "?":
            out.append(".")
        elif tok == "\\":
            if sc.peek() in ("}", "/"):
                continue  # `\}` and `\/` only escape the ${} syntax, not the pattern
            nxt = sc.next()
            if nxt not in ("*", "?", "\\"):
                raise _LexError(f"invalid escape '\\{_go_rune(nxt)}'")
            out.append("\\" + nxt)
        elif tok in _REGEX_SPECIAL:
            out.append("\\" + tok)
        else:
            out.append(tok)
    return "".join(out)


def _trim_prefix(pattern: str, value: str, greedy: bool) -> str:
    m = _pattern_regex(pattern, greedy=greedy, anchored=True).search(value)
    return value[m.end():] if m else value


def _reverse_pattern(pattern: str) -> str:
    """Reverse a glob but keep each `\\x` escape pair in order."""
    out = [""] * len(pattern)
    last, i = len(pattern) - 1, 0
    while i <= last:
        tok, at = pattern[i], last - i
        if tok == "\\" and i != last:
            out[at - 1], out[at] = tok, pattern[i + 1]
            i += 2
        else:
            out[at] = tok
            i += 1
    return "".join(out)


def _trim_suffix(pattern: str, value: str, greedy: bool) -> str:
    # Regexes find leftmost matches, so reverse both sides and trim a prefix instead.
    return _trim_prefix(_reverse_pattern(pattern), value[::-1], greedy)[::-1]


def _go_replace_all(regex: re.Pattern[str], src: str, template: str) -> str:
    """Go's Regexp.ReplaceAllString: no empty match right after a match, `$` templates."""
    out: list[str] = []
    last_end, pos = 0, 0
    while pos <= len(src):
        m = regex.search(src, pos)
        if m is None:
            break
        out.append(src[last_end:m.start()])
        if m.end() > last_end or m.start() == 0:
            out.append(_go_expand_template(template, m.group(0)))
        last_end = m.end()
        pos = pos + 1 if pos + 1 > m.end() else m.end()
    out.append(src[last_end:])
    return "".join(out)


def _go_expand_template(template: str, whole: str) -> str:
    """Go's Regexp.Expand for patterns without groups: `$0` is the match, other names empty."""
    out: list[str] = []
    while True:
        before, sep, template = template.partition("$")
        out.append(before)
        if not sep:
            return "".join(out)
        if template.startswith("$"):
            out.append("$")
            template = template[1:]
            continue
        name, rest = _template_ref(template)
        if name is None:
            out.append("$")  # malformed reference: the $ is literal
            continue
        template = rest
        if name == "0":
            out.append(whole)


def _template_ref(s: str) -> tuple[str | None, str]:
    brace = s.startswith("{")
    body = s[1:] if brace else s
    i = 0
    while i < len(body) and (body[i].isalpha() or body[i].isdecimal() or body[i] == "_"):
        i += 1
    if i == 0:
        return None, s
    name = body[:i]
    if brace:
        if i >= len(body) or body[i] != "}":
            return None, s
        i += 1
    return name, body[i:]
