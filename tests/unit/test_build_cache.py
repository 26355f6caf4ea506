"""The build cache's pure parts: content digests of COPY inputs and cache-miss reasons."""

from __future__ import annotations

import os
from pathlib import Path

from wharfie.build.cache import BuildCache, digest_inputs, explain_miss


def test_digest_ignores_mtime_but_not_content_mode_or_place(tmp_path: Path) -> None:
    f = tmp_path / "a"
    f.write_text("x")
    base = digest_inputs([(str(f), "a")])
    os.utime(f, (1, 1))
    assert digest_inputs([(str(f), "a")]) == base
    assert digest_inputs([(str(f), "b")]) != base
    f.chmod(0o700)
    assert digest_inputs([(str(f), "a")]) != base
    f.chmod(0o644)
    f.write_text("y")
    assert digest_inputs([(str(f), "a")]) != base


def test_explain_miss_names_files_and_args() -> None:
    old = {"files": {"a": "1", "b": "2", "c": "3"}, "args": {"N": "1"}}
    new = {"files": {"a": "1", "b": "9", "d": "4"}, "args": {"N": "2"}}
    assert explain_miss(old, new) == "b changed; d added; c removed; build arg N changed"
    many = {"files": {f"f{i}": "x" for i in range(5)}}
    assert explain_miss({"files": {}}, many) == "f0, f1, f2 and 2 more added"
    assert explain_miss({"files": None}, {"files": None, "mounts": "m"}) == "mounts changed"
    assert explain_miss(new, new) == ""


def test_remembered_inputs_survive_reopen_and_prune(tmp_path: Path) -> None:
    db = tmp_path / "cache.db"
    c = BuildCache(db)
    c.remember("sha256:p", "COPY . .", {"files": {"a": "1"}})
    assert BuildCache(db).recall("sha256:p", "COPY . .") == {"files": {"a": "1"}}
    assert BuildCache(db).recall("sha256:other", "COPY . .") is None
    c.clear()
    assert c.recall("sha256:p", "COPY . .") is None
