"""`(did you mean RUN?)`: BuildKit's typo hints for unknown instructions and flags."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable


def levenshtein(a: str, b: str) -> int:
    """Edit distance with unit costs (what agext/levenshtein computes by default)."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def _match_case(option: str, original: str) -> str:
    if original == original.lower():
        return option.lower()
    if original == original.upper():
        return option.upper()
    return option


def _shared(a: str, b: str) -> int:
    return sum((Counter(a) & Counter(b)).values())


def search(value: str, options: Iterable[str], *, case_sensitive: bool) -> str | None:
    """The closest option within distance 2, cased like `value`; None for an exact match.

    BuildKit takes the first of equally close options in Go map order, i.e. at random
    (`RNU` is 2 edits from both RUN and ENV); we prefer the one sharing more letters.
    """
    needle = value if case_sensitive else value.lower()
    best, best_key = None, (3, 0)
    for option in options:
        candidate = option if case_sensitive else option.lower()
        if candidate == needle:
            return None  # the value is known: the error is about something else
        key = (levenshtein(needle, candidate), -_shared(needle, candidate))
        if key < best_key:
            best = candidate if case_sensitive else _match_case(candidate, value)
            best_key = key
    return best


def with_hint(message: str, value: str, options: Iterable[str], *,
              case_sensitive: bool) -> str:
    """`message (did you mean X?)` when there is a close option."""
    match = search(value, options, case_sensitive=case_sensitive)
    return f"{message} (did you mean {match}?)" if match else message
