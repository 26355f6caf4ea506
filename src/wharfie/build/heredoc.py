"""Heredocs in RUN and COPY/ADD, the way BuildKit's Dockerfile frontend runs them.

- `RUN <<EOF` alone: the body is the script. With a `#!` line it is written to a file
  mounted read-only at /dev/pipes/<name> and executed; otherwise the SHELL runs the body.
- `RUN cmd <<EOF …`: the shell gets the whole line back with its bodies and handles them.
- `COPY <<EOF /path`: the body becomes a file (variables expanded unless the word was quoted).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wharfie.build.dockerfile import instructions as ins
from wharfie.build.dockerfile.parser import chomp, try_parse_heredoc
from wharfie.errors import InvalidArgument

if TYPE_CHECKING:
    from wharfie.build.state import Stage

PIPES = "/dev/pipes"

ScriptRun = tuple[list[str], list[dict[str, Any]], str]


@contextlib.contextmanager
def run_script(stage: Stage, cmd: ins.Run, tmp: Path) -> Iterator[ScriptRun]:
    """(argv, extra mounts, cache-key text) for a RUN with heredocs; ([], [], "") without."""
    if not cmd.files:
        yield [], [], ""
        return
    if len(cmd.cmd) != 1 or not cmd.prepend_shell:
        raise InvalidArgument("parsing produced an invalid run command: heredocs need the shell form")
    key = "heredoc:" + hashlib.sha256(repr(cmd.files).encode()).hexdigest()
    line = cmd.cmd[0]
    if try_parse_heredoc(line) is None:  # `cmd <<EOF`: the shell reads the bodies itself
        full = line + "".join(f"\n{f.data}{f.name}" for f in cmd.files)
        yield [*stage.shell, full], [], key
        return
    first = cmd.files[0]
    body = chomp(first.data) if first.chomp else first.data
    if not body.startswith("#!"):
        yield [*stage.shell, body], [], key
        return
    with tempfile.TemporaryDirectory(dir=tmp, prefix="heredoc-") as pipes:
        name = os.path.basename(first.name) or "script"
        path = os.path.join(pipes, name)
        with open(path, "w") as fh:
            fh.write(body)
        os.chmod(path, 0o755)
        os.chmod(pipes, 0o755)
        yield [f"{PIPES}/{name}"], [{"Type": "bind", "Source": pipes, "Target": PIPES, "ReadOnly": True}], key


@contextlib.contextmanager
def source_files(contents: tuple[ins.SourceContent, ...], expand: Any, tmp: Path) -> Iterator[list[tuple[str, str]]]:
    """COPY/ADD heredoc sources as (host path, file name) pairs in a scratch directory."""
    if not contents:
        yield []
        return
    with tempfile.TemporaryDirectory(dir=tmp, prefix="heredoc-") as d:
        out = []
        for c in contents:
            name = os.path.basename(c.path)
            if not name or name in (".", ".."):
                raise InvalidArgument(f"invalid heredoc name {c.path!r}")
            path = os.path.join(d, name)
            with open(path, "w") as fh:
                fh.write(expand(c.data) if c.expand else c.data)
            os.chmod(path, 0o644)
            out.append((path, name))
        yield out
