""".dockerignore: which context files a build never sees (moby/patternmatcher v0.6 rules).

Reading (`read_ignore`, ignorefile.ReadAll): a `#` in column 1 is a comment; each other line
is trimmed, `!` marks a re-inclusion, the path is `filepath.Clean`ed and a leading `/`
dropped, so `/a/../b/` is `b`.

Matching (`PatternMatcher`): a pattern is a Go `filepath.Match` glob (`*` `?` `[…]` `\\`)
where `**` also crosses `/`. A path is excluded when it — or one of its parent directories —
matches; patterns apply in order and the last one that matches wins, so `!keep` re-includes.

Walking (`walk_context`): the tarball walk of the docker CLI: an excluded directory is not
entered unless a `!` pattern starts with its path; symlinks are listed, never followed.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from wharfie.build.dockerfile.gostd import trim_space
from wharfie.errors import InvalidArgument

_SHOULD_ESCAPE = frozenset(".+()|{}$")
_BAD_PATTERN = "syntax error in pattern"
_MAX_LINE = 65536


class BadPattern(InvalidArgument):
    """A .dockerignore pattern that Go's filepath.Match rejects, or a lone `!`."""


# --- Go path helpers ----------------------------------------------------------------

def go_clean(path: str) -> str:
    """Go's filepath.Clean on Unix: the shortest equivalent path, `.` for empty."""
    if path == "":
        return "."
    rooted = path.startswith("/")
    out: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if out and out[-1] != "..":
                out.pop()
            elif not rooted:
                out.append("..")
            continue
        out.append(part)
    cleaned = "/".join(out)
    if rooted:
        return "/" + cleaned
    return cleaned or "."


def go_dir(path: str) -> str:
    """Go's filepath.Dir: everything but the last element, cleaned."""
    return go_clean(path[:path.rfind("/") + 1])


def _scan_chunk(pattern: str) -> tuple[bool, str, str]:
    star = False
    while pattern.startswith("*"):
        pattern, star = pattern[1:], True
    in_range, i = False, 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            if i + 1 < len(pattern):
                i += 1
        elif ch == "[":
            in_range = True
        elif ch == "]":
            in_range = False
        elif ch == "*" and not in_range:
            break
        i += 1
    return star, pattern[:i], pattern[i:]


def _get_esc(chunk: str) -> tuple[str, str]:
    if not chunk or chunk[0] in "-]":
        raise BadPattern(_BAD_PATTERN)
    if chunk[0] == "\\":
        chunk = chunk[1:]
        if not chunk:
            raise BadPattern(_BAD_PATTERN)
    ch, rest = chunk[0], chunk[1:]
    if not rest:
        raise BadPattern(_BAD_PATTERN)
    return ch, rest


def _match_class(chunk: str, ch: str | None) -> tuple[bool, str]:
    """A `[...]` class at the start of chunk: (matched, rest of chunk)."""
    chunk = chunk[1:]
    negated = chunk.startswith("^")
    if negated:
        chunk = chunk[1:]
    matched, ranges = False, 0
    while True:
        if chunk.startswith("]") and ranges > 0:
            return matched != negated, chunk[1:]
        lo, chunk = _get_esc(chunk)
        hi = lo
        if chunk[0] == "-":
            hi, chunk = _get_esc(chunk[1:])
        if ch is not None and lo <= ch <= hi:
            matched = True
        ranges += 1


def _match_chunk(chunk: str, s: str) -> str | None:
    """Match `chunk` at the start of `s`: the rest of `s`, or None. Checks the syntax fully."""
    failed = False
    while chunk:
        if not failed and not s:
            failed = True
        head = chunk[0]
        if head == "[":
            ok, chunk = _match_class(chunk, None if failed else s[0])
            if not failed:
                s = s[1:]
                failed = not ok
        elif head == "?":
            if not failed:
                failed, s = s[0] == "/", s[1:]
            chunk = chunk[1:]
        else:
            if head == "\\":
                chunk = chunk[1:]
                if not chunk:
                    raise BadPattern(_BAD_PATTERN)
            if not failed:
                failed, s = chunk[0] != s[0], s[1:]
            chunk = chunk[1:]
    return None if failed else s


def go_match(pattern: str, name: str) -> bool:
    """Go's filepath.Match (Unix); BadPattern when the pattern is malformed."""
    while pattern:
        star, chunk, pattern = _scan_chunk(pattern)
        if star and chunk == "":
            return "/" not in name  # a trailing * matches the rest unless it has a /
        rest = _match_chunk(chunk, name)
        if rest is not None and (rest == "" or pattern):
            name = rest
            continue
        if star:
            found = False
            for i in range(len(name)):
                if name[i] == "/":
                    break
                rest = _match_chunk(chunk, name[i + 1:])
                if rest is not None and not (pattern == "" and rest):
                    name, found = rest, True
                    break
            if found:
                continue
        while pattern:  # no match: still report a malformed remainder
            _, chunk, pattern = _scan_chunk(pattern)
            _match_chunk(chunk, "")
        return False
    return name == ""


# --- patterns -----------------------------------------------------------------------

@dataclass
class Pattern:
    """One cleaned pattern (without its `!`), compiled lazily like patternmatcher's."""

    cleaned: str
    exclusion: bool = False
    dirs: list[str] = field(default_factory=list)
    _kind: str = ""
    _regex: re.Pattern[str] | None = None

    def __str__(self) -> str:
        return self.cleaned

    def match(self, path: str) -> bool:
        if not self._kind:
            self._compile()
        if self._kind == "exact":
            return path == self.cleaned
        if self._kind == "prefix":
            return path.startswith(self.cleaned[:-2])  # `dir/**`
        if self._kind == "suffix":
            suffix = self.cleaned[2:]  # `**/name`, which also matches `name` itself
            return path.endswith(suffix) or (suffix.startswith("/") and path == suffix[1:])
        assert self._regex is not None
        return self._regex.search(path) is not None

    def _compile(self) -> None:
        kind, source = _translate(self.cleaned)
        self._kind = kind
        if kind == "regexp":
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # e.g. "possible nested set"
                    self._regex = re.compile(source, re.ASCII)
            except re.error:
                raise BadPattern(_BAD_PATTERN) from None


def _translate(pattern: str) -> tuple[str, str]:
    """A glob as patternmatcher's regexp, and which fast path (exact, prefix for `dir/**`,
    suffix for `**/name`) can be used instead of it."""
    kind, out, pos, token = "exact", ["^"], 0, 0
    while pos < len(pattern):
        ch, pos = pattern[pos], pos + 1
        if ch == "*" and pattern.startswith("*", pos):
            pos += 2 if pattern.startswith("*/", pos) else 1  # `**/` is `**`
            if pos == len(pattern):
                kind = "prefix" if kind == "exact" else "regexp"
                out.append("" if kind == "prefix" else ".*")
            else:
                kind = "regexp"
                out.append("(.*/)?")  # any number of directories, even none
            if token == 0:
                kind = "suffix"
        elif ch in "*?":
            kind = "regexp"
            out.append("[^/]*" if ch == "*" else "[^/]")
        elif ch in _SHOULD_ESCAPE:
            out.append("\\" + ch)
        elif ch == "\\":
            if pos < len(pattern):
                out.append("\\" + pattern[pos])
                pos, kind = pos + 1, "regexp"
            else:
                out.append("\\\\")
        else:
            if ch in "[]":
                kind = "regexp"
            out.append(ch)
        token += 1
    return kind, "".join(out) + r"\Z"


def _parent_dirs(path: str) -> list[str]:
    parent = go_dir(path)
    return parent.split("/") if parent != "." else []


class PatternMatcher:
    """An ordered list of patterns; the last one that matches a path decides."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns: list[Pattern] = []
        self.exclusions = False
        for raw in patterns:
            p = trim_space(raw)
            if not p:
                continue
            p = go_clean(p)
            exclusion = p.startswith("!")
            if exclusion:
                if len(p) == 1:
                    raise BadPattern('illegal exclusion pattern: "!"')
                p, self.exclusions = p[1:], True
            go_match(p, ".")  # syntax check, as patternmatcher does
            self.patterns.append(Pattern(p, exclusion, p.split("/")))

    def matches(self, path: str) -> bool:
        """Excluded? (MatchesOrParentMatches: the path or any parent dir matches.)"""
        matched = False
        parents = _parent_dirs(path)
        for pattern in self.patterns:
            if pattern.exclusion != matched:
                continue  # only a re-inclusion can flip an excluded path, and vice versa
            hit = pattern.match(path) or any(
                pattern.match("/".join(parents[:i + 1])) for i in range(len(parents)))
            if hit:
                matched = not pattern.exclusion
        return matched

    def matches_legacy(self, path: str) -> bool:
        """patternmatcher's deprecated Matches: only the parent at the pattern's depth.

        The docker CLI still uses it to decide whether the Dockerfile and .dockerignore
        need an explicit `!` re-inclusion (see `keep_build_files`).
        """
        matched = False
        parent = go_dir(path)
        parents = parent.split("/")
        for pattern in self.patterns:
            if pattern.exclusion != matched:
                continue
            hit = pattern.match(path)
            if not hit and parent != "." and len(pattern.dirs) <= len(parents):
                hit = pattern.match("/".join(parents[:len(pattern.dirs)]))
            if hit:
                matched = not pattern.exclusion
        return matched

    def matches_using_parent(self, path: str,
                             parent: list[bool] | None) -> tuple[bool, list[bool]]:
        """Excluded?, reusing the per-pattern results of the parent directory.

        Returns the per-pattern results for `path`, to pass for its children. With no
        parent results this is `matches()` (MatchesUsingParentResults).
        """
        matched = False
        results = [False] * len(self.patterns)
        parent_dirs = _parent_dirs(path)
        for i, pattern in enumerate(self.patterns):
            hit = parent[i] if parent else False
            if not hit:
                if pattern.exclusion != matched:
                    continue
                hit = pattern.match(path)
                if not hit and not parent:
                    hit = any(pattern.match("/".join(parent_dirs[:j + 1]))
                              for j in range(len(parent_dirs)))
            results[i] = hit
            if hit:
                matched = not pattern.exclusion
        return matched, results


# --- reading and walking ------------------------------------------------------------

def read_ignore(data: str | bytes) -> list[str]:
    """The patterns of a .dockerignore file (ignorefile.ReadAll)."""
    text = data.decode("utf-8", "surrogateescape") if isinstance(data, bytes) else data
    text = text.removeprefix("\ufeff")
    patterns = []
    for line in text.split("\n"):
        if len(line.encode("utf-8", "surrogateescape")) >= _MAX_LINE:
            raise InvalidArgument("error reading .dockerignore: "
                                  "bufio.Scanner: token too long")
        line = line.removesuffix("\r")
        if line.startswith("#"):
            continue
        pattern = trim_space(line)
        if not pattern:
            continue
        invert = pattern.startswith("!")
        if invert:
            pattern = trim_space(pattern[1:])
        if pattern:
            pattern = go_clean(pattern)
            if len(pattern) > 1 and pattern.startswith("/"):
                pattern = pattern[1:]
        patterns.append("!" + pattern if invert else pattern)
    return patterns


def keep_build_files(patterns: list[str], dockerfile: str | None = "Dockerfile") -> list[str]:
    """The docker CLI's TrimBuildFilesFromExcludes: the Dockerfile and .dockerignore are
    always sent, so excluded ones get a `!` re-inclusion appended. `dockerfile` is the
    context-relative path, None when it comes from stdin."""
    out = list(patterns)
    matcher = PatternMatcher(patterns)
    for name in (".dockerignore", dockerfile):
        if name is None:
            continue
        cleaned = go_clean(name)
        if cleaned != "." and matcher.matches_legacy(cleaned):
            out.append("!" + name)
    return out


def _sorted_entries(fd: int, rel: str) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(fd) as it:
            return sorted(it, key=lambda e: os.fsencode(e.name))
    except OSError as exc:
        raise _context_error(rel, exc) from None


def _context_error(rel: str, exc: OSError) -> InvalidArgument:
    return InvalidArgument(f"error checking context: can't access '{rel or '.'}': "
                           f"{exc.strerror or exc}")


def _open_dir(name: str, dir_fd: int | None, rel: str) -> int:
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
    if dir_fd is not None:
        flags |= os.O_NOFOLLOW
    try:
        return os.open(name, flags, dir_fd=dir_fd)
    except OSError as exc:
        raise _context_error(rel, exc) from None


def _descend_excluded(matcher: PatternMatcher, rel: str) -> bool:
    """Enter an excluded dir only if a `!` pattern may re-include something below it."""
    prefix = rel + "/"
    return any(p.exclusion and (p.cleaned + "/").startswith(prefix) for p in matcher.patterns)


def walk_context(root: str | os.PathLike[str], matcher: PatternMatcher) -> Iterator[str]:
    """The context paths a build sends, relative with `/`, in Docker's (sorted) order.

    Directories are yielded before their contents. Symlinks are yielded as entries and
    never followed; directories are opened with O_NOFOLLOW relative to their parent, so a
    directory swapped for a symlink mid-walk cannot lead outside the context.
    """
    root_fd = _open_dir(os.fspath(root), None, "")
    stack: list[tuple[int, Iterator[os.DirEntry[str]], str, list[bool] | None]] = []
    try:
        stack.append((root_fd, iter(_sorted_entries(root_fd, "")), "", None))
        while stack:
            fd, entries, prefix, parent = stack[-1]
            entry = next(entries, None)
            if entry is None:
                stack.pop()
                if fd != root_fd:
                    os.close(fd)
                continue
            rel = prefix + entry.name
            is_dir = entry.is_dir(follow_symlinks=False)
            excluded, results = matcher.matches_using_parent(rel, parent)
            if not excluded:
                yield rel
            if is_dir and (not excluded or (matcher.exclusions
                                            and _descend_excluded(matcher, rel))):
                child = _open_dir(entry.name, fd, rel)
                try:
                    children = _sorted_entries(child, rel)
                except InvalidArgument:
                    os.close(child)
                    raise
                stack.append((child, iter(children), rel + "/", results))
    finally:
        for fd, *_ in stack:
            if fd != root_fd:
                os.close(fd)
        os.close(root_fd)
