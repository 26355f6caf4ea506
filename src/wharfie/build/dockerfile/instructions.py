"""Typed Dockerfile instructions, grouped into stages (BuildKit's `instructions` package).

`parse_dockerfile()` turns parser nodes into frozen dataclasses and checks what the legacy
builder checks before running anything: known keywords, known flags, argument counts, only
ARG before the first FROM, ONBUILD triggers that are allowed, valid stage names, well-formed
HEALTHCHECK options and RUN mounts. Errors say which line, in BuildKit's words.

Variables are *not* expanded here: the builder expands each step just before running it,
with the environment of that moment, by calling `instruction.expand(Expander(env))`. That
returns a new instruction; one Expander per instruction is why `ENV a=x b=$a` sees the
previous `a`. Instructions whose arguments Docker never expands return themselves.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Self, TypeVar

from wharfie.build.dockerfile.errors import DockerfileError
from wharfie.build.dockerfile.flags import Flag, FlagError, Flags
from wharfie.build.dockerfile.gostd import (
    parse_duration,
    parse_int32,
    quote,
    trim_space,
)
from wharfie.build.dockerfile.mounts import Device, Mount, MountError, parse_device, parse_mount
from wharfie.build.dockerfile.parser import (
    INSTRUCTIONS,
    Directive,
    Node,
    ParseResult,
    ParseWarning,
    chomp,
    parse,
    try_parse_heredoc,
)
from wharfie.build.dockerfile.shell import Expander
from wharfie.build.dockerfile.suggest import with_hint

NETWORK_MODES = ("default", "none", "host")
_STAGE_NAME = re.compile(r"[a-z][a-z0-9\-_.]*")
_ONBUILD_PREFIX = re.compile(r"^[\t\n\f\r ]*ONBUILD[\t\n\f\r ]*", re.IGNORECASE)
_BUILDKIT = ("the --{} option requires BuildKit. Refer to https://docs.docker.com/go/buildkit/"
             " to learn how to build images with BuildKit enabled")


_I = TypeVar("_I", bound="Instruction")


class _Invalid(Exception):
    """An instruction-level failure before its line is attached."""


# --- the instructions ---------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class Instruction:
    """What every instruction carries: its keyword as written, its source, its lines."""

    keyword: str
    code: str  # the instruction's text (continuations joined): what the legacy build echoes
    start_line: int
    end_line: int

    @property
    def name(self) -> str:
        return self.keyword.lower()

    def expand(self, ex: Expander) -> Self:
        """This instruction with its variables expanded; unchanged if Docker expands none."""
        return self

    def _expanded(self, fn: Callable[[], Self]) -> Self:
        try:
            return fn()
        except DockerfileError as exc:
            raise exc.at(self.start_line, self.end_line) from None
        except MountError as exc:
            raise DockerfileError(str(exc)).at(self.start_line, self.end_line) from None


@dataclass(frozen=True)
class KeyValue:
    key: str
    value: str
    no_delim: bool = False  # the legacy `ENV key value` form

    def __str__(self) -> str:
        return f"{self.key}={self.value}"


@dataclass(frozen=True)
class ArgDef:
    key: str
    value: str | None = None
    comment: str = ""


@dataclass(frozen=True)
class InlineFile:
    """A heredoc body given to a RUN (BuildKit makes it a file the command reads)."""

    name: str
    data: str
    chomp: bool = False


@dataclass(frozen=True)
class SourceContent:
    """A heredoc used as a COPY/ADD source: a file named `path` holding `data`."""

    path: str
    data: str
    expand: bool = True


def _pairs(pairs: tuple[KeyValue, ...], ex: Expander) -> tuple[KeyValue, ...]:
    return tuple(KeyValue(ex.word(p.key), ex.word(p.value), p.no_delim) for p in pairs)


@dataclass(frozen=True, kw_only=True)
class From(Instruction):
    """`FROM [--platform=p] base [AS name]`: starts a stage."""

    base: str
    platform: str = ""
    stage_name: str = ""  # lower-cased, as Docker matches names case-insensitively
    comment: str = ""

    def expand(self, ex: Expander) -> Self:
        """Expand base and platform; Docker passes only the meta ARGs (those before FROM)."""
        return self._expanded(lambda: replace(self, base=ex.word(self.base),
                                              platform=ex.word(self.platform)))


@dataclass(frozen=True, kw_only=True)
class Arg(Instruction):
    args: tuple[ArgDef, ...]

    def expand(self, ex: Expander) -> Self:
        return self._expanded(lambda: replace(self, args=tuple(
            ArgDef(ex.word(a.key), None if a.value is None else ex.word(a.value), a.comment)
            for a in self.args)))


@dataclass(frozen=True, kw_only=True)
class Env(Instruction):
    pairs: tuple[KeyValue, ...]

    def expand(self, ex: Expander) -> Self:
        return self._expanded(lambda: replace(self, pairs=_pairs(self.pairs, ex)))


@dataclass(frozen=True, kw_only=True)
class Label(Instruction):
    pairs: tuple[KeyValue, ...]

    def expand(self, ex: Expander) -> Self:
        return self._expanded(lambda: replace(self, pairs=_pairs(self.pairs, ex)))


@dataclass(frozen=True, kw_only=True)
class Maintainer(Instruction):
    maintainer: str


@dataclass(frozen=True, kw_only=True)
class Workdir(Instruction):
    path: str

    def expand(self, ex: Expander) -> Self:
        return self._expanded(lambda: replace(self, path=ex.word(self.path)))


@dataclass(frozen=True, kw_only=True)
class User(Instruction):
    user: str

    def expand(self, ex: Expander) -> Self:
        return self._expanded(lambda: replace(self, user=ex.word(self.user)))


@dataclass(frozen=True, kw_only=True)
class StopSignal(Instruction):
    signal: str

    def expand(self, ex: Expander) -> Self:
        return self._expanded(lambda: replace(self, signal=ex.word(self.signal)))


@dataclass(frozen=True, kw_only=True)
class Volume(Instruction):
    volumes: tuple[str, ...]

    def expand(self, ex: Expander) -> Self:
        return self._expanded(
            lambda: replace(self, volumes=tuple(ex.word(v) for v in self.volumes)))


@dataclass(frozen=True, kw_only=True)
class Expose(Instruction):
    ports: tuple[str, ...]  # sorted, like BuildKit

    def expand(self, ex: Expander) -> Self:
        """The one word-splitting expansion: `EXPOSE $PORTS` with PORTS="80 443" is two."""
        return self._expanded(lambda: replace(
            self, ports=tuple(p for port in self.ports for p in ex.words(port))))


@dataclass(frozen=True, kw_only=True)
class Shell(Instruction):
    shell: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class Cmd(Instruction):
    cmd: tuple[str, ...]  # shell form: one string, to be run by the SHELL
    prepend_shell: bool
    files: tuple[InlineFile, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Entrypoint(Instruction):
    cmd: tuple[str, ...] | None  # None for an empty ENTRYPOINT (it resets CMD)
    prepend_shell: bool
    files: tuple[InlineFile, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Run(Instruction):
    cmd: tuple[str, ...]
    prepend_shell: bool
    files: tuple[InlineFile, ...] = ()
    mount_specs: tuple[str, ...] = ()  # the raw --mount values
    mounts: tuple[Mount, ...] = ()  # filled by expand(): values may use variables
    network: str = "default"
    devices: tuple[Device, ...] = ()
    flags_used: tuple[str, ...] = ()

    def expand(self, ex: Expander) -> Self:
        """RUN's command is left to the shell; only its mounts are expanded."""
        return self._expanded(lambda: replace(
            self, mounts=tuple(parse_mount(m, ex.word) for m in self.mount_specs)))


@dataclass(frozen=True, kw_only=True)
class Copy(Instruction):
    sources: tuple[str, ...]
    dest: str
    contents: tuple[SourceContent, ...] = ()  # heredoc sources
    from_: str = ""
    chown: str = ""
    chmod: str = ""
    link: bool = False

    def expand(self, ex: Expander) -> Self:
        """Expand chown, chmod, sources and dest (not --from, which Docker leaves as is)."""
        return self._expanded(lambda: replace(
            self, chown=ex.word(self.chown), chmod=ex.word(self.chmod),
            sources=tuple(ex.word(s) for s in self.sources), dest=ex.word(self.dest)))


@dataclass(frozen=True, kw_only=True)
class Add(Instruction):
    sources: tuple[str, ...]
    dest: str
    contents: tuple[SourceContent, ...] = ()
    chown: str = ""
    chmod: str = ""
    link: bool = False
    keep_git_dir: bool = False
    checksum: str = ""

    def expand(self, ex: Expander) -> Self:
        return self._expanded(lambda: replace(
            self, chown=ex.word(self.chown), chmod=ex.word(self.chmod),
            checksum=ex.word(self.checksum), sources=tuple(ex.word(s) for s in self.sources),
            dest=ex.word(self.dest)))


@dataclass(frozen=True, kw_only=True)
class Healthcheck(Instruction):
    """`HEALTHCHECK NONE` (test `("NONE",)`) or `HEALTHCHECK [opts] CMD …`; durations in ns."""

    test: tuple[str, ...]
    interval: int = 0
    timeout: int = 0
    start_period: int = 0
    start_interval: int = 0
    retries: int = 0


@dataclass(frozen=True, kw_only=True)
class Onbuild(Instruction):
    """`ONBUILD <trigger>`: the trigger's text, stored raw and expanded when it runs."""

    expression: str


@dataclass(frozen=True)
class Stage:
    """A FROM and the instructions up to the next FROM."""

    index: int
    from_: From
    commands: tuple[Instruction, ...] = ()

    @property
    def name(self) -> str:
        return self.from_.stage_name

    @property
    def base(self) -> str:
        return self.from_.base

    @property
    def platform(self) -> str:
        return self.from_.platform


@dataclass(frozen=True)
class Dockerfile:
    """A parsed Dockerfile: the ARGs before the first FROM, then the stages."""

    meta_args: tuple[Arg, ...]
    stages: tuple[Stage, ...]
    ast: ParseResult = field(repr=False)

    @property
    def escape(self) -> str:
        return self.ast.escape

    @property
    def directives(self) -> list[Directive]:
        return self.ast.directives

    @property
    def warnings(self) -> list[ParseWarning]:
        return self.ast.warnings

    def find_stage(self, name: str) -> Stage | None:
        """The stage named `name` (case-insensitive), or None."""
        for stage in self.stages:
            if stage.name and stage.name.lower() == name.lower():
                return stage
        return None


# --- node → instruction -------------------------------------------------------------

@dataclass
class _Request:
    node: Node
    args: list[str]
    flags: Flags

    def parse_flags(self) -> None:
        try:
            self.flags.parse()
        except FlagError as exc:
            raise _Invalid(str(exc)) from None


def _new(cls: type[_I], req: _Request, **fields: Any) -> _I:
    n = req.node
    return cls(keyword=n.keyword, code=trim_space(n.original), start_line=n.start_line,
               end_line=n.end_line, **fields)


def _node_args(node: Node) -> list[str]:
    if node.sub is not None:
        return [node.sub.keyword, *_node_args(node.sub)]
    return list(node.args)


def _at_least_one(name: str) -> _Invalid:
    return _Invalid(f"{name} requires at least one argument")


def _exactly_one(name: str) -> _Invalid:
    return _Invalid(f"{name} requires exactly one argument")


def _comment(comments: list[str], name: str) -> str:
    """The doc comment for `name`: a preceding `# name does this` line."""
    if not name:
        return ""
    for line in comments:
        if line.startswith(name + " "):
            return line[len(name) + 1:]
    return ""


def _kvps(args: list[str], name: str) -> tuple[KeyValue, ...]:
    if not args:
        raise _at_least_one(name)
    if len(args) % 3:
        raise _Invalid(f"Bad input to {name}, too many arguments")
    out = []
    for i in range(0, len(args), 3):
        if not args[i]:
            raise _Invalid(f"{name} names can not be blank")
        out.append(KeyValue(args[i], args[i + 1], args[i + 2] == ""))
    return tuple(out)


def _env(req: _Request) -> Env:
    req.parse_flags()
    return _new(Env, req, pairs=_kvps(req.args, "ENV"))


def _label(req: _Request) -> Label:
    req.parse_flags()
    return _new(Label, req, pairs=_kvps(req.args, "LABEL"))


def _maintainer(req: _Request) -> Maintainer:
    if len(req.args) != 1:
        raise _exactly_one("MAINTAINER")
    req.parse_flags()
    return _new(Maintainer, req, maintainer=req.args[0])


def _single(kind: type[Workdir] | type[User], name: str, attr: str) -> Callable[[_Request], Instruction]:
    def parse_one(req: _Request) -> Instruction:
        if len(req.args) != 1:
            raise _exactly_one(name)
        req.parse_flags()
        return _new(kind, req, **{attr: req.args[0]})
    return parse_one


def _stopsignal(req: _Request) -> StopSignal:
    if len(req.args) != 1:
        raise _exactly_one("STOPSIGNAL")
    return _new(StopSignal, req, signal=req.args[0])  # no flag check, as in BuildKit


def _from(req: _Request) -> From:
    args = req.args
    stage_name = ""
    if len(args) == 3 and args[1].lower() == "as":
        stage_name = args[2].lower()
        if not _STAGE_NAME.fullmatch(stage_name):
            raise _Invalid(f"invalid name for build stage: {quote(args[2])}, "
                           "name can't start with a number or contain symbols")
    elif len(args) != 1:
        raise _Invalid("FROM requires either one or three arguments")
    platform = req.flags.add_string("platform")
    req.parse_flags()
    return _new(From, req, base=args[0], platform=platform.value,
                stage_name=stage_name, comment=_comment(req.node.comments, stage_name))


def _arg(req: _Request) -> Arg:
    if not req.args:
        raise _at_least_one("ARG")
    defs = []
    for word in req.args:  # ARG never checks its flags (BuildKit doesn't either)
        key, has_value, value = word.partition("=")
        if has_value and not key:
            raise _Invalid("ARG names can not be blank")
        defs.append(ArgDef(key, value if has_value else None, _comment(req.node.comments, key)))
    return _new(Arg, req, args=tuple(defs))


def _volume(req: _Request) -> Volume:
    if not req.args:
        raise _at_least_one("VOLUME")
    req.parse_flags()
    volumes = []
    for v in req.args:
        v = trim_space(v)
        if not v:
            raise _Invalid("VOLUME specified can not be an empty string")
        volumes.append(v)
    return _new(Volume, req, volumes=tuple(volumes))


def _expose(req: _Request) -> Expose:
    if not req.args:
        raise _at_least_one("EXPOSE")
    req.parse_flags()
    return _new(Expose, req, ports=tuple(sorted(req.args)))


def _command_line(req: _Request) -> tuple[str, ...]:
    """Exec form as given; shell form joined into one string for the SHELL to run."""
    if not req.args or req.node.json:
        return tuple(req.args)
    return (" ".join(req.args),)


def _inline_files(req: _Request) -> tuple[InlineFile, ...]:
    return tuple(InlineFile(h.name, h.content, h.chomp) for h in req.node.heredocs)


def _shell(req: _Request) -> Shell:
    req.parse_flags()
    shell = _command_line(req)
    if not shell:
        raise _at_least_one("SHELL")
    if not req.node.json:
        raise _Invalid("SHELL requires the arguments to be in JSON form")
    return _new(Shell, req, shell=shell)


def _cmd(req: _Request) -> Cmd:
    req.parse_flags()
    return _new(Cmd, req, cmd=_command_line(req),
                prepend_shell=not req.node.json, files=_inline_files(req))


def _entrypoint(req: _Request) -> Entrypoint:
    req.parse_flags()
    return _new(Entrypoint, req, cmd=_command_line(req) or None,
                prepend_shell=not req.node.json, files=_inline_files(req))


def _run(req: _Request) -> Run:
    # BuildKit's RUN flags, in the order its hooks register them (no --security: that one
    # is behind a build tag the legacy builder is not compiled with).
    device = req.flags.add_strings("device")
    mount = req.flags.add_strings("mount")
    network = req.flags.add_string("network", "default")
    req.parse_flags()
    try:
        devices = tuple(parse_device(d) for d in device.values)
        for spec in mount.values:
            parse_mount(spec, None)  # syntax only; the values are read by expand()
    except MountError as exc:
        raise _Invalid(str(exc)) from None
    if network.value not in NETWORK_MODES:
        raise _Invalid(f"invalid network mode {quote(network.value)}")
    return _new(Run, req, cmd=_command_line(req), prepend_shell=not req.node.json,
                files=_inline_files(req), mount_specs=tuple(mount.values),
                network=network.value, devices=devices, flags_used=tuple(req.flags.used))


def _sources_and_dest(req: _Request, name: str) -> dict[str, object]:
    *srcs, dest = req.args
    if try_parse_heredoc(dest) is not None:
        raise _Invalid(f"{name} cannot accept a heredoc as a destination")
    bodies = {h.name: h.content for h in req.node.heredocs}
    paths: list[str] = []
    contents: list[SourceContent] = []
    for src in srcs:
        heredoc = try_parse_heredoc(src)
        if heredoc is None:
            paths.append(src)
            continue
        data = bodies.get(heredoc.name, "")
        contents.append(SourceContent(heredoc.name, chomp(data) if heredoc.chomp else data,
                                      heredoc.expand))
    return {"sources": tuple(paths), "dest": dest, "contents": tuple(contents)}


def _need_dest(req: _Request, name: str) -> None:
    if len(req.args) < 2:
        raise _Invalid(f"{name} requires at least two arguments, but only one was provided. "
                       "Destination could not be determined")


def _copy(req: _Request) -> Copy:
    _need_dest(req, "COPY")
    chown, from_ = req.flags.add_string("chown"), req.flags.add_string("from")
    chmod, link = req.flags.add_string("chmod"), req.flags.add_bool("link")
    req.parse_flags()
    return _new(Copy, req, **_sources_and_dest(req, "COPY"),
                from_=from_.value, chown=chown.value, chmod=chmod.value, link=link.is_true)


def _add(req: _Request) -> Add:
    _need_dest(req, "ADD")
    chown, chmod = req.flags.add_string("chown"), req.flags.add_string("chmod")
    link, keep_git_dir = req.flags.add_bool("link"), req.flags.add_bool("keep-git-dir")
    checksum = req.flags.add_string("checksum")
    req.parse_flags()
    return _new(Add, req, **_sources_and_dest(req, "ADD"),
                chown=chown.value, chmod=chmod.value, link=link.is_true,
                keep_git_dir=keep_git_dir.is_true, checksum=checksum.value)


def _onbuild(req: _Request) -> Onbuild:
    if not req.args:
        raise _at_least_one("ONBUILD")
    req.parse_flags()
    trigger = trim_space(req.args[0]).upper()
    if trigger == "ONBUILD":
        raise _Invalid("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
    if trigger in ("MAINTAINER", "FROM"):
        raise _Invalid(f"{trigger} isn't allowed as an ONBUILD trigger")
    expression = _ONBUILD_PREFIX.sub("", req.node.original, count=1)
    for heredoc in req.node.heredocs:
        expression += "\n" + heredoc.content + heredoc.name
    return _new(Onbuild, req, expression=expression)


def _interval(flag: Flag) -> int:
    if flag.value == "":
        return 0
    try:
        duration = parse_duration(flag.value)
    except ValueError as exc:
        raise _Invalid(str(exc)) from None
    if duration != 0 and duration < 1_000_000:  # Go prints the 1ms minimum as "1ms"
        raise _Invalid(f"Interval {quote(flag.name)} cannot be less than 1ms")
    return duration


def _healthcheck(req: _Request) -> Healthcheck:
    if not req.args:
        raise _at_least_one("HEALTHCHECK")
    kind, rest = req.args[0].upper(), req.args[1:]
    if kind == "NONE":  # BuildKit checks no flags for NONE
        if rest:
            raise _Invalid("HEALTHCHECK NONE takes no arguments")
        return _new(Healthcheck, req, test=("NONE",))
    names = ("interval", "timeout", "start-period", "start-interval", "retries")
    flags = {n: req.flags.add_string(n) for n in names}
    req.parse_flags()
    if kind != "CMD":
        raise _Invalid(f"Unknown type {quote(kind)} in HEALTHCHECK (try CMD)")
    cmd = list(rest) if req.node.json or not rest else [" ".join(rest)]
    if not cmd:
        raise _Invalid("Missing command after HEALTHCHECK CMD")
    test = ("CMD" if req.node.json else "CMD-SHELL", *cmd)
    durations = [_interval(flags[n]) for n in names[:4]]
    return _new(Healthcheck, req, test=test, interval=durations[0],
                timeout=durations[1], start_period=durations[2],
                start_interval=durations[3], retries=_retries(flags["retries"]))


def _retries(flag: Flag) -> int:
    if flag.value == "":
        return 0
    try:
        retries = parse_int32(flag.value)
    except ValueError as exc:
        raise _Invalid(str(exc)) from None
    if retries < 0:
        raise _Invalid(f"--retries cannot be negative ({retries})")
    return retries


_PARSERS: dict[str, Callable[[_Request], Instruction]] = {
    "add": _add, "arg": _arg, "cmd": _cmd, "copy": _copy, "entrypoint": _entrypoint,
    "env": _env, "expose": _expose, "from": _from, "healthcheck": _healthcheck,
    "label": _label, "maintainer": _maintainer, "onbuild": _onbuild, "run": _run,
    "shell": _shell, "stopsignal": _stopsignal,
    "user": _single(User, "USER", "user"), "volume": _volume,
    "workdir": _single(Workdir, "WORKDIR", "path"),
}
assert set(_PARSERS) == set(INSTRUCTIONS)


def parse_instruction(node: Node, *, file: str = "Dockerfile") -> Instruction:
    """One node as a typed instruction (a FROM gives a `From`)."""
    parser = _PARSERS.get(node.cmd)
    try:
        if parser is None:
            raise _Invalid(with_hint(f"unknown instruction: {node.keyword}", node.keyword,
                                     [n.upper() for n in INSTRUCTIONS], case_sensitive=False))
        return parser(_Request(node, _node_args(node), Flags(list(node.flags))))
    except _Invalid as exc:
        raise DockerfileError.instruction(str(exc), file=file, line=node.start_line,
                                          end_line=node.end_line) from None


def build_stages(ast: ParseResult) -> Dockerfile:
    """Group the typed instructions: meta ARGs, then one Stage per FROM."""
    meta: list[Arg] = []
    stages: list[tuple[From, list[Instruction]]] = []
    for node in ast.nodes:
        instruction = parse_instruction(node, file=ast.file)
        if isinstance(instruction, From):
            stages.append((instruction, []))
        elif not stages and isinstance(instruction, Arg):
            meta.append(instruction)
        elif not stages:
            raise DockerfileError("no build stage in current context", file=ast.file,
                                  line=node.start_line, end_line=node.end_line)
        else:
            stages[-1][1].append(instruction)
    return Dockerfile(tuple(meta), tuple(Stage(i, f, tuple(cmds))
                                         for i, (f, cmds) in enumerate(stages)), ast)


def parse_dockerfile(data: str | bytes, *, file: str = "Dockerfile") -> Dockerfile:
    """Parse and type a whole Dockerfile."""
    return build_stages(parse(data, file=file))


def check_legacy(instruction: Instruction) -> None:
    """Reject what the legacy builder cannot do (call after expand(), as it does).

    RUN accepts no flags at all, and COPY/ADD no `--chmod`: those need BuildKit.
    """
    flag = None
    if isinstance(instruction, Run) and instruction.flags_used:
        flag = instruction.flags_used[0]
    elif isinstance(instruction, Copy | Add) and instruction.chmod:
        flag = "chmod"
    if flag is not None:
        raise DockerfileError(_BUILDKIT.format(flag), line=instruction.start_line,
                              end_line=instruction.end_line)

