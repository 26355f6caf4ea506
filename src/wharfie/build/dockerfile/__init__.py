"""The Dockerfile front end: text → nodes (`parser`) → typed instructions and stages
(`instructions`) → variable expansion per step (`shell`), with BuildKit v0.22's behaviour
(what moby v28's legacy builder vendors) and its error texts.

    df = parse_dockerfile(text)                 # DockerfileError names file and line
    for stage in df.stages:
        for step in stage.commands:
            step = step.expand(Expander(env, escape=df.escape))
"""

from __future__ import annotations

import importlib
from typing import Any

# Names are loaded on first use (PEP 562): `wharfie.build.ignore` (which the CLI imports for
# `build`) needs only `gostd`, not the whole parser.
_HOMES = {
    "errors": ("DockerfileError",),
    "instructions": ("Add", "Arg", "ArgDef", "Cmd", "Copy", "Dockerfile", "Entrypoint", "Env", "Expose",
                     "From", "Healthcheck", "InlineFile", "Instruction", "KeyValue", "Label", "Maintainer",
                     "Onbuild", "Run", "Shell", "SourceContent", "Stage", "StopSignal", "User", "Volume",
                     "Workdir", "build_stages", "check_legacy", "parse_dockerfile", "parse_instruction"),
    "mounts": ("Device", "Mount"),
    "parser": ("Directive", "Heredoc", "Node", "ParseResult", "parse"),
    "shell": ("Expander", "Lexer", "ShellError", "expand", "expand_words"),
}
_WHERE = {name: module for module, names in _HOMES.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


__all__ = [
    "Add", "Arg", "ArgDef", "Cmd", "Copy", "Device", "Directive", "Dockerfile",
    "DockerfileError", "Entrypoint", "Env", "Expander", "Expose", "From", "Healthcheck",
    "Heredoc", "InlineFile", "Instruction", "KeyValue", "Label", "Lexer", "Maintainer",
    "Mount", "Node", "Onbuild", "ParseResult", "Run", "Shell", "ShellError",
    "SourceContent", "Stage", "StopSignal", "User", "Volume", "Workdir", "build_stages",
    "check_legacy", "expand", "expand_words", "parse", "parse_dockerfile",
    "parse_instruction",
]
