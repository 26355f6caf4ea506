"""Golden Dockerfile corpus: `tests/golden/dockerfile/<case>.Dockerfile` and `<case>.json`.

The JSON holds what we expect from parsing the Dockerfile: the node list (`ast`), the
directives, warnings and escape token, and the typed stages (`instructions`), or the error
(`error` text + `line`).

Regenerate after an intended change, then review the diff:
    .venv/bin/python tests/unit/test_dockerfile_golden.py [case …]
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from wharfie.build.dockerfile import DockerfileError, build_stages, parse
from wharfie.build.dockerfile.parser import Node, ParseResult

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "dockerfile"
CASES = sorted(p.name.removesuffix(".Dockerfile") for p in GOLDEN.glob("*.Dockerfile"))
KEPT = ("about", "source", "dump")  # hand-written / transcribed keys that regen keeps


def node_json(node: Node) -> dict[str, Any]:
    out: dict[str, Any] = {"lines": [node.start_line, node.end_line], "cmd": node.cmd}
    if node.keyword != node.cmd.upper():
        out["keyword"] = node.keyword
    if node.flags:
        out["flags"] = node.flags
    if node.sub is not None:
        sub = node_json(node.sub)
        del sub["lines"]
        out["sub"] = sub
    else:
        out["args"] = node.args
    if node.json:
        out["json"] = True
    if node.heredocs:
        out["heredocs"] = [dataclasses.asdict(h) for h in node.heredocs]
    out["original"] = node.original
    return out


def instruction_json(instruction: Any) -> dict[str, Any]:
    fields = dataclasses.asdict(instruction)
    for key in ("code", "start_line", "end_line"):
        fields.pop(key)
    return {"type": type(instruction).__name__, **fields}


def error_json(err: DockerfileError) -> dict[str, Any]:
    return {"error": str(err), "line": err.line}


def ast_json(result: ParseResult) -> dict[str, Any]:
    return {
        "escape": result.escape,
        "directives": [dataclasses.asdict(d) for d in result.directives],
        "warnings": [{"line": w.line, "short": w.short} for w in result.warnings],
        "ast": [node_json(n) for n in result.nodes],
    }


def render(data: bytes) -> dict[str, Any]:
    """Everything the golden file records about one Dockerfile, as plain JSON values."""
    return json.loads(json.dumps(_render(data)))


def _render(data: bytes) -> dict[str, Any]:
    try:
        result = parse(data)
    except DockerfileError as err:
        return error_json(err)
    out = ast_json(result)
    try:
        df = build_stages(result)
    except DockerfileError as err:
        out["instructions_error"] = error_json(err)
        return out
    out["instructions"] = {
        "meta_args": [instruction_json(a) for a in df.meta_args],
        "stages": [{"index": s.index, "name": s.name, "from": instruction_json(s.from_),
                    "commands": [instruction_json(c) for c in s.commands]}
                   for s in df.stages],
    }
    return out


def load(case: str) -> tuple[bytes, dict[str, Any]]:
    data = (GOLDEN / f"{case}.Dockerfile").read_bytes()
    expected = json.loads((GOLDEN / f"{case}.json").read_text(encoding="utf-8"))
    return data, expected


@pytest.mark.parametrize("case", CASES)
def test_golden(case: str) -> None:
    data, expected = load(case)
    actual = render(data)
    for key in KEPT:
        expected.pop(key, None)
    assert actual == expected


def test_corpus_is_complete() -> None:
    for case in CASES:
        assert (GOLDEN / f"{case}.json").exists(), f"{case}.json missing: regenerate it"


# --- regeneration ---------------------------------------------------------------------

def _dumps(doc: dict[str, Any]) -> str:
    """Readable JSON: one line per AST node and per instruction."""
    lines = ["{"]
    items = list(doc.items())
    for i, (key, value) in enumerate(items):
        comma = "," if i < len(items) - 1 else ""
        lines.append(f" {json.dumps(key)}: {_block(key, value)}{comma}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _block(key: str, value: Any) -> str:
    compact = lambda v: json.dumps(v, ensure_ascii=False)  # noqa: E731
    if key == "ast" and value:
        return "[\n" + ",\n".join(f"  {compact(n)}" for n in value) + "\n ]"
    if key == "instructions":
        parts = ["  \"meta_args\": [" + ",".join(
            f"\n   {compact(a)}" for a in value["meta_args"]) + ("\n  ]" if value["meta_args"] else "]")]
        stages = []
        for s in value["stages"]:
            head = {k: s[k] for k in ("index", "name", "from")}
            body = ",".join(f"\n     {compact(c)}" for c in s["commands"])
            stages.append(f"   {compact(head)[:-1]}, \"commands\": [{body}" +
                          ("\n   ]}" if s["commands"] else "]}"))
        parts.append("  \"stages\": [\n" + ",\n".join(stages) + "\n  ]")
        return "{\n" + ",\n".join(parts) + "\n }"
    return compact(value)


def regenerate(cases: list[str]) -> None:
    for case in cases:
        data = (GOLDEN / f"{case}.Dockerfile").read_bytes()
        path = GOLDEN / f"{case}.json"
        old = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        doc = {k: old[k] for k in KEPT if k in old}
        doc.update(render(data))
        path.write_text(_dumps(doc), encoding="utf-8")
        print("wrote", path.relative_to(GOLDEN.parents[1]))


if __name__ == "__main__":
    regenerate(sys.argv[1:] or CASES)
