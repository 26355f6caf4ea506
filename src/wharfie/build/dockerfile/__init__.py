"""The Dockerfile front end: text → nodes (`parser`) → typed instructions and stages
(`instructions`) → variable expansion per step (`shell`), with BuildKit v0.22's behaviour
(what moby v28's legacy builder vendors) and its error texts.

    df = parse_dockerfile(text)                 # DockerfileError names file and line
    for stage in df.stages:
        for step in stage.commands:
            step = step.expand(Expander(env, escape=df.escape))
"""

from wharfie.build.dockerfile.errors import DockerfileError
from wharfie.build.dockerfile.instructions import (
    Add,
    Arg,
    ArgDef,
    Cmd,
    Copy,
    Dockerfile,
    Entrypoint,
    Env,
    Expose,
    From,
    Healthcheck,
    InlineFile,
    Instruction,
    KeyValue,
    Label,
    Maintainer,
    Onbuild,
    Run,
    Shell,
    SourceContent,
    Stage,
    StopSignal,
    User,
    Volume,
    Workdir,
    build_stages,
    check_legacy,
    parse_dockerfile,
    parse_instruction,
)
from wharfie.build.dockerfile.mounts import Device, Mount
from wharfie.build.dockerfile.parser import Directive, Heredoc, Node, ParseResult, parse
from wharfie.build.dockerfile.shell import Expander, Lexer, ShellError, expand, expand_words

__all__ = [
    "Add", "Arg", "ArgDef", "Cmd", "Copy", "Device", "Directive", "Dockerfile",
    "DockerfileError", "Entrypoint", "Env", "Expander", "Expose", "From", "Healthcheck",
    "Heredoc", "InlineFile", "Instruction", "KeyValue", "Label", "Lexer", "Maintainer",
    "Mount", "Node", "Onbuild", "ParseResult", "Run", "Shell", "ShellError",
    "SourceContent", "Stage", "StopSignal", "User", "Volume", "Workdir", "build_stages",
    "check_legacy", "expand", "expand_words", "parse", "parse_dockerfile",
    "parse_instruction",
]
