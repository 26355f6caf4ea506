"""The shell lexer (variable substitution, word splitting) against BuildKit's vectors.

`tests/golden/dockerfile/lexer/*.json` are BuildKit v0.22.0's envVarTest, wordsTest and
lex_test.go cases, transcribed; the tests below them pin our error texts and the quirks we
keep on purpose.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from wharfie.build.dockerfile import Expander, Lexer, ShellError, expand, expand_words
from wharfie.build.dockerfile.shell import env_mapping

VECTORS = Path(__file__).resolve().parents[1] / "golden" / "dockerfile" / "lexer"


def _cases(name: str) -> tuple[dict[str, Any], list[Any]]:
    doc = json.loads((VECTORS / name).read_text(encoding="utf-8"))
    return doc, [pytest.param(c, id=f"{c['from']}:{c['input']}") for c in doc["cases"]]


ENVVAR, ENVVAR_CASES = _cases("envvar.json")
_, WORDS_CASES = _cases("words.json")
_, MODIFIER_CASES = _cases("modifiers.json")


@pytest.mark.parametrize("case", ENVVAR_CASES)
def test_envvar_vectors(case: dict[str, Any]) -> None:
    if case.get("error"):
        with pytest.raises(ShellError):
            expand(case["input"], ENVVAR["env"])
    else:
        assert expand(case["input"], ENVVAR["env"]) == case["expected"]


@pytest.mark.parametrize("case", WORDS_CASES)
def test_words_vectors(case: dict[str, Any]) -> None:
    if case.get("error"):
        with pytest.raises(ShellError):
            expand_words(case["input"], case["env"])
    else:
        assert expand_words(case["input"], case["env"]) == case["expected"]


@pytest.mark.parametrize("case", MODIFIER_CASES)
def test_modifier_vectors(case: dict[str, Any]) -> None:
    lexer = Lexer()
    if case.get("error"):
        with pytest.raises(ShellError):
            lexer.process(case["input"], case["env"])
        return
    result = lexer.process(case["input"], case["env"])
    assert result.result == case["expected"]
    if "matched" in case:
        assert sorted(result.matched) == case["matched"]
    if "unmatched" in case:
        assert sorted(result.unmatched) == case["unmatched"]


@pytest.mark.parametrize("word, message", [
    ("${FOO", "unsupported modifier (\ufffd) in substitution"),
    ("${", "syntax error: missing '}'"),
    ("${}", "syntax error: bad substitution"),
    ("${:-x}", "syntax error: bad substitution"),
    ("'abc", "unexpected end of statement while looking for matching single-quote"),
    ('"abc', "unexpected end of statement while looking for matching double-quote"),
    ("${a:-b", "syntax error: missing '}'"),
    ("${a/b", "syntax error: missing '/' in ${}"),
    ("${a:=b}", "unsupported modifier (:=) in substitution"),
    ("${a=b}", "unsupported modifier (=) in substitution"),
    ("${a:#b}", "unsupported modifier (:#) in substitution"),
    ("${a:%b}", "unsupported modifier (:%) in substitution"),
    ("${FOO#\\x}", "invalid pattern (\\x) in substitution: invalid escape '\\x'"),
    ("${UNSET?}", "UNSET: is not allowed to be unset"),
    ("${EMPTY:?}", "EMPTY: is not allowed to be empty"),
    ("${UNSET:?set it with --build-arg}", "UNSET: set it with --build-arg"),
])
def test_error_texts(word: str, message: str) -> None:
    with pytest.raises(ShellError) as info:
        expand(word, {"FOO": "x", "EMPTY": ""})
    assert str(info.value) == f'failed to process {json.dumps(word)}: {message}'
    assert info.value.line is None


@pytest.mark.parametrize("word, env, expected", [
    # Go's ReplaceAllString: no empty match right after a match, `$0` is the match.
    ("${FOO//*/x}", {"FOO": "abc"}, "x"),
    ("${FOO//o/[\\$0]}", {"FOO": "foo"}, "f[\\o][\\o]"),
    ("${FOO//o/[$0]}", {"FOO": "foo"}, "f[][]"),  # the lexer expands $0 (unset) first
    ("${FOO/o/[\\$0]}", {"FOO": "foo"}, "f[\\$0]o"),  # a single replacement is literal
    ("${FOO%/*}", {"FOO": "/a/b/c"}, "/a/b"),
    ("${FOO%%/*}", {"FOO": "a/b/c"}, "a"),
    ("${FOO##*/}", {"FOO": "/a/b/c"}, "c"),
    ("${FOO#*/}", {"FOO": "a/b/c"}, "b/c"),
    ("${FOO/?/X}", {"FOO": "abc"}, "Xbc"),
    ("${FOO//[ab]/X}", {"FOO": "[ab]a"}, "Xa"),  # no bracket classes: literal brackets
    ("$1x$@y${#}", {}, "xy"),
    ("a$", {}, "a$"),
    ("${KEY}", ["KEY=first", "KEY=last"], "last"),
    ("${BARE-unset}", ["BARE"], ""),
    ("\ufeff$A", {"A": "bom dropped"}, "bom dropped"),
])
def test_expand_edge_cases(word: str, env: Any, expected: str) -> None:
    assert expand(word, env) == expected


def test_backtick_escape() -> None:
    assert expand("a`$b \\$c", {"b": "B", "c": "C"}, escape="`") == "a$b \\C"
    assert expand_words('`"x y`"', {}, escape="`") == ['"x', 'y"']


def test_words_keep_buildkits_quirks() -> None:
    # A modifier's nested scan resets the buffer the outer word was being built in.
    assert expand_words("ab${x:-c}d e", {}) == ["cd", "e"]
    assert expand_words("ab${x}d e", {}) == ["abd", "e"]
    # `<<` keeps the blanks after it, so a heredoc marker stays one word.
    assert expand_words("a <<  EOF b", {}) == ["a", "<<  EOF", "b"]
    # Empty quoted strings make no word; quoted blanks do not split.
    assert expand_words('"" a "b c"', {}) == ["a", "b c"]
    assert expand_words("$V", {"V": " 80  443 "}) == ["80", "443"]


def test_lexer_options() -> None:
    raw = Lexer(raw_quotes=True, raw_escapes=True, skip_unset_env=True)
    assert raw.process_word("'a' \"$X\" \\n ${Y:-d} ${Z}", {"X": "x"}) == \
        "'a' \"x\" \\n ${Y:-d} ${Z}"
    assert Lexer(skip_process_quotes=True).process_word("'$X'", {"X": "x"}) == "'x'"


def test_expander_snapshot() -> None:
    ex = Expander(["A=1", "B=2"])
    assert ex.word("$A-$B") == "1-2"
    assert ex.words("$A $B") == ["1", "2"]
    assert env_mapping(["A", "B=", "C=x=y"]) == {"A": "", "B": "", "C": "x=y"}
