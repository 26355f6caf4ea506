""".dockerignore reading, matching and the context walk.

`tests/golden/dockerfile/dockerignore/*.json` are moby/patternmatcher v0.6.0's test vectors
(TestMatches, Go's filepath.Match table, compileTests), transcribed.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from wharfie.build.ignore import (
    BadPattern,
    PatternMatcher,
    _translate,
    go_clean,
    go_dir,
    go_match,
    keep_build_files,
    read_ignore,
    walk_context,
)
from wharfie.errors import InvalidArgument

VECTORS = Path(__file__).resolve().parents[1] / "golden" / "dockerfile" / "dockerignore"


def _cases(name: str) -> list[Any]:
    doc = json.loads((VECTORS / name).read_text(encoding="utf-8"))
    return [pytest.param(c, id=f"{c.get('patterns', c.get('pattern'))}:{c.get('path', '')}")
            for c in doc["cases"]]


def _walk_style(pm: PatternMatcher, path: str) -> bool:
    """Match `path` the way the walk does: parents first, passing their results down."""
    parent = None
    if go_dir(path) != ".":
        parts = go_dir(path).split("/")
        for i in range(len(parts)):
            _, parent = pm.matches_using_parent("/".join(parts[:i + 1]), parent)
    return pm.matches_using_parent(path, parent)[0]


@pytest.mark.parametrize("case", _cases("matches.json"))
def test_matches_vectors(case: dict[str, Any]) -> None:
    pm = PatternMatcher(case["patterns"])
    assert pm.matches(case["path"]) is case["excluded"]
    assert _walk_style(pm, case["path"]) is case["excluded"]
    assert pm.matches_using_parent(case["path"], None)[0] is case["excluded"]


@pytest.mark.parametrize("case", _cases("legacy_matches.json"))
def test_legacy_matches_vectors(case: dict[str, Any]) -> None:
    if case.get("error"):
        with pytest.raises(BadPattern, match="syntax error in pattern"):
            PatternMatcher(case["patterns"])
        return
    path = go_clean(case["path"])
    excluded = path != "." and PatternMatcher(case["patterns"]).matches_legacy(path)
    assert excluded is case["excluded"]


@pytest.mark.parametrize("case", _cases("compile.json"))
def test_compile_vectors(case: dict[str, Any]) -> None:
    kind, regex = _translate(go_clean(case["pattern"]))
    assert kind == case["kind"]
    if kind == "regexp":
        assert regex.removesuffix(r"\Z") + "$" == case["regexp"]


@pytest.mark.parametrize("pattern, name, matched", [
    ("abc", "abc", True), ("*", "abc", True), ("a*/b", "a/c/b", False),
    ("a*b*c*d*e*/f", "axbxcxdxexxx/f", True), ("[a-ζ]*", "α", True), ("a?b", "a/b", False),
    ("[\\]a]", "]", True), ("[^a-c]", "d", True), ("*", "a/b", False), ("", "", True),
])
def test_go_match(pattern: str, name: str, matched: bool) -> None:
    assert go_match(pattern, name) is matched


@pytest.mark.parametrize("path, cleaned", [
    ("", "."), ("a//b/./c/..", "a/b"), ("/../a", "/a"), ("../../a/..", "../.."), ("/", "/"),
    ("a/", "a"), ("//a", "/a"), ("./", "."),
])
def test_go_clean(path: str, cleaned: str) -> None:
    assert go_clean(path) == cleaned


def test_read_ignore() -> None:
    content = ("\ufefftest1\n/test2\n/a/file/here\n\nlastfile\n# this is a comment\n"
               "! /inverted/abs/path\n!\n! \n  #not a comment\r\n./x/../y/\n.\n/\n")
    assert read_ignore(content) == ["test1", "test2", "a/file/here", "lastfile",
                                    "!inverted/abs/path", "!", "!", "#not a comment", "y",
                                    ".", "/"]
    assert read_ignore(b"a\nb") == ["a", "b"]
    with pytest.raises(BadPattern, match='illegal exclusion pattern: "!"'):
        PatternMatcher(read_ignore("!\n"))
    with pytest.raises(InvalidArgument, match="token too long"):
        read_ignore("a" * 70000)


def test_last_match_wins_and_parents() -> None:
    pm = PatternMatcher(["docs", "!docs/README.md", "*.md", "!keep/*.md", "build/**"])
    assert pm.matches("docs/x/y.txt")  # a matching directory excludes its contents
    assert not pm.matches("docs/README.md")  # re-included; `*.md` only matches at the top
    assert PatternMatcher(["docs", "!docs/README.md", "**/*.md"]).matches("docs/README.md")
    assert not pm.matches("keep/a.md")
    assert pm.matches("a.md") and not pm.matches("b.txt")
    assert pm.matches("build/a/b") and not pm.matches("build")
    assert PatternMatcher(["."]).matches("anything") is False
    assert pm.exclusions and not PatternMatcher(["a"]).exclusions


def test_keep_build_files() -> None:
    assert keep_build_files(["*"]) == ["*", "!.dockerignore", "!Dockerfile"]
    assert keep_build_files(["*", "!Dockerfile"]) == ["*", "!Dockerfile", "!.dockerignore"]
    assert keep_build_files(["sub"], "sub/Dockerfile.dev") == ["sub", "!sub/Dockerfile.dev"]
    assert keep_build_files(["*"], None) == ["*", "!.dockerignore"]
    assert keep_build_files([]) == []


@pytest.fixture
def context(tmp_path: Path) -> Path:
    for rel in ("Dockerfile", ".dockerignore", "a.txt", "b.md", "docs/README.md",
                "docs/api/x.md", "node_modules/m/index.js", "src/main.go",
                "src/vendor/lib.go", "keep/inside/keep.txt"):
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rel)
    os.symlink("/etc", tmp_path / "src" / "link-out")
    os.symlink("../../..", tmp_path / "docs" / "up")
    return tmp_path


def test_walk_context(context: Path) -> None:
    pm = PatternMatcher(["*.md", "node_modules", "src/vendor", "!docs/README.md", "keep",
                         "!keep/inside/keep.txt"])
    assert list(walk_context(context, pm)) == [
        ".dockerignore", "Dockerfile", "a.txt", "docs", "docs/README.md", "docs/api",
        "docs/api/x.md", "docs/up", "keep/inside/keep.txt", "src", "src/link-out",
        "src/main.go"]


def test_walk_without_patterns_lists_everything_once(context: Path) -> None:
    paths = list(walk_context(context, PatternMatcher([])))
    assert len(paths) == len(set(paths)) == 20
    assert "src/link-out" in paths and not any(p.startswith("src/link-out/") for p in paths)


def test_walk_skips_excluded_dirs_without_exceptions(context: Path) -> None:
    pm = PatternMatcher(["docs", "!**/README.md"])  # `**` does not start with docs/
    assert "docs/README.md" not in list(walk_context(context, pm))
    pm = PatternMatcher(["**", "!src"])
    assert list(walk_context(context, pm)) == ["src", "src/link-out", "src/main.go",
                                               "src/vendor", "src/vendor/lib.go"]


def test_walk_errors_are_context_errors(context: Path) -> None:
    with pytest.raises(InvalidArgument, match="error checking context"):
        list(walk_context(context / "missing", PatternMatcher([])))


def test_walk_deep_tree(tmp_path: Path) -> None:
    # Deeper than the recursion limit we set, yet shallow enough for pytest's own
    # (recursive) cleanup: the walk must not recurse.
    depth = 300
    deep = tmp_path.joinpath(*["d"] * depth)
    deep.mkdir(parents=True)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(150)
    try:
        paths = list(walk_context(tmp_path, PatternMatcher(["**/x"])))
    finally:
        sys.setrecursionlimit(limit)
    assert len(paths) == depth and paths[-1].count("/") == depth - 1
