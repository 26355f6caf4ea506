"""Typed instructions: expansion per instruction, legacy-builder limits, error locations.

The parse of every instruction is pinned by the golden corpus; these tests cover what a
build does with the result: `expand()` (which instructions Docker substitutes variables in,
and with which environment), `check_legacy()`, and the errors' texts and lines.
"""

from __future__ import annotations

import pytest

from wharfie.build.dockerfile import (
    Add,
    Arg,
    Cmd,
    Copy,
    DockerfileError,
    Env,
    Expander,
    Expose,
    From,
    Healthcheck,
    Label,
    Onbuild,
    Run,
    Shell,
    StopSignal,
    User,
    Volume,
    Workdir,
    check_legacy,
    parse,
    parse_dockerfile,
    parse_instruction,
)
from wharfie.build.dockerfile.mounts import (
    Mount,
    MountError,
    csv_fields,
    parse_device,
    ram_in_bytes,
)
from wharfie.errors import InvalidArgument

ENV = {"A": "alpha", "DIR": "/srv", "PORTS": "80 443/udp", "U": "app", "SIG": "SIGINT",
       "EMPTY": "", "STAGE": "builder", "ID": "cache1"}


def commands(text: str) -> list:
    return list(parse_dockerfile("FROM scratch\n" + text).stages[0].commands)


def one(text: str):  # type: ignore[no-untyped-def]
    return commands(text)[0]


def test_env_sees_the_values_from_before_it() -> None:
    env = one("ENV abc=bye def=$abc")
    expanded = env.expand(Expander({"abc": "hello"}))
    assert [(p.key, p.value) for p in expanded.pairs] == [("abc", "bye"), ("def", "hello")]
    assert env.pairs[1].value == "$abc"  # the parsed instruction is not changed


@pytest.mark.parametrize("text, check", [
    ("ENV $A=${A}_x B=\"q $A\"", lambda i: [(p.key, p.value) for p in i.pairs] ==
     [("alpha", "alpha_x"), ("B", "q alpha")]),
    ("LABEL l=$A 'k'='$A'", lambda i: [(p.key, p.value) for p in i.pairs] ==
     [("l", "alpha"), ("k", "$A")]),
    ("ARG X=$A Y", lambda i: [(a.key, a.value) for a in i.args] == [("X", "alpha"), ("Y", None)]),
    ("WORKDIR $DIR/app", lambda i: i.path == "/srv/app"),
    ("USER ${U}:${G:-staff}", lambda i: i.user == "app:staff"),
    ("STOPSIGNAL $SIG", lambda i: i.signal == "SIGINT"),
    ("VOLUME $DIR /b", lambda i: i.volumes == ("/srv", "/b")),
    ("EXPOSE $PORTS 22", lambda i: i.ports == ("80", "443/udp", "22")),
    ("COPY --from=$STAGE --chown=$U --chmod=$EMPTY $A* $DIR/", lambda i: (
        i.from_, i.chown, i.chmod, i.sources, i.dest) == ("$STAGE", "app", "", ("alpha*",), "/srv/")),
    ("ADD --checksum=$A --chown=$U x $DIR", lambda i: (i.checksum, i.chown, i.dest) ==
     ("alpha", "app", "/srv")),
])
def test_expand(text: str, check) -> None:  # type: ignore[no-untyped-def]
    assert check(one(text).expand(Expander(ENV)))


@pytest.mark.parametrize("text", [
    "RUN echo $A", "CMD echo $A", "ENTRYPOINT [\"$A\"]", "SHELL [\"$A\"]",
    "HEALTHCHECK CMD echo $A", "MAINTAINER $A", "ONBUILD RUN echo $A",
])
def test_instructions_docker_does_not_expand(text: str) -> None:
    instruction = one(text)
    assert instruction.expand(Expander(ENV)) == instruction


def test_onbuild_trigger_is_expanded_when_it_runs() -> None:
    trigger = one("ONBUILD WORKDIR $DIR")
    assert isinstance(trigger, Onbuild) and trigger.expression == "WORKDIR $DIR"
    node = parse(trigger.expression).nodes[0]
    assert parse_instruction(node).expand(Expander(ENV)) == Workdir(
        keyword="WORKDIR", code="WORKDIR $DIR", start_line=1, end_line=1, path="/srv")


def test_from_expands_with_meta_args() -> None:
    df = parse_dockerfile("ARG V=3\nFROM --platform=$P alpine:$V AS x\n")
    expanded = df.stages[0].from_.expand(Expander({"V": "3.19", "P": "linux/arm64"}))
    assert (expanded.base, expanded.platform, expanded.stage_name) == \
        ("alpine:3.19", "linux/arm64", "x")
    assert isinstance(expanded, From)


def test_run_mounts_are_read_when_expanded() -> None:
    run = one("RUN --mount=type=cache,id=$ID,target=/c,sharing=locked "
              "--mount=type=secret,id=tok,env=TOKEN,required true")
    assert isinstance(run, Run) and run.mounts == ()
    mounts = run.expand(Expander(ENV)).mounts
    assert mounts == (
        Mount(type="cache", target="/c", cache_id="cache1", cache_sharing="locked"),
        Mount(type="secret", cache_id="tok", env="TOKEN", required=True, readonly=True))


@pytest.mark.parametrize("spec, message", [
    ("type=foo", 'unsupported mount type "foo"'),
    ("type=bnid", 'unsupported mount type "bnid" (did you mean bind?)'),
    ("type=bind,size=1m", "unexpected key 'size' for mount type 'bind'"),
    ("type=tmpfs,size=huge", "invalid value for size: huge"),
    ("type=bind,mode=0700", 'mode not allowed for "bind" type mounts'),
    ("type=cache,uid=x", "invalid value x for uid"),
    ("type=secret,from=x,id=a", "secret mount should not have a from"),
    ("type=secret", "invalid secret mount. one of source, target required"),
    ("type=bind,sharing=shared", "invalid cache sharing set for bind mount"),
    ("type=bind,readonly=maybe", "invalid value for readonly: maybe"),
    ("type=bind,targte=/x", "unexpected key 'targte' in 'targte=/x' (did you mean target?)"),
    ("type=bind,b", "invalid field 'b' must be a key=value pair"),
    ("type=bind,required", "unexpected key 'required' for mount type 'bind'"),
])
def test_mount_errors_name_the_line(spec: str, message: str) -> None:
    run = commands(f"ENV X=1\nRUN --mount={spec} true")[1]
    with pytest.raises(DockerfileError) as info:
        run.expand(Expander(ENV))
    assert str(info.value) == message
    assert info.value.line == 3


def test_mount_defaults() -> None:
    run = one("RUN --mount=target=/a --mount=type=tmpfs,target=/t,size=64m "
              "--mount=type=bind,target=/b,rw --mount=type=cache,target=/c,ro true")
    mounts = run.expand(Expander({})).mounts
    assert [(m.type, m.readonly) for m in mounts] == [
        ("bind", True), ("tmpfs", False), ("bind", False), ("cache", True)]
    assert mounts[1].size_limit == 64 << 20


def test_devices_and_network() -> None:
    run = one("RUN --device=name=/dev/kvm --device=/dev/fuse,required=false --network=host x")
    assert [(d.name, d.required) for d in run.devices] == [("/dev/kvm", False),
                                                          ("/dev/fuse", False)]
    assert run.network == "host" and run.flags_used == ("device", "network")
    assert parse_device("a,required") == parse_device("name=a,required=true")


def test_csv_and_sizes() -> None:
    assert csv_fields('a,"b,c","d""e"') == ["a", "b,c", 'd"e']
    assert csv_fields('a,"b",') == ["a", "b", ""]
    assert csv_fields("a,,b\n") == ["a", "", "b"]
    for bad, column in (('a,d""', 4), ('"a"b', 3), ('"ab', 2)):
        with pytest.raises(MountError, match=f"parse error on line 1, column {column}: "):
            csv_fields(bad)
    assert ram_in_bytes("1.5g") == 3 << 29
    assert ram_in_bytes("10 KiB") == 10 << 10
    assert ram_in_bytes("100") == 100
    for bad in ("x", "1kb2", "1q", "-1"):
        with pytest.raises(ValueError):
            ram_in_bytes(bad)


def test_check_legacy() -> None:
    run, copy, add, plain = commands(
        "RUN --network=none --mount=target=/x true\nCOPY --chmod=$M a b\n"
        "ADD --chmod=644 a b\nCOPY --chown=1 --link a b\n")
    with pytest.raises(DockerfileError) as info:
        check_legacy(run)
    assert str(info.value) == ("the --network option requires BuildKit. Refer to "
                               "https://docs.docker.com/go/buildkit/ to learn how to build "
                               "images with BuildKit enabled")
    assert info.value.line == 2
    check_legacy(copy.expand(Expander({})))  # --chmod expanding to "" is accepted
    with pytest.raises(DockerfileError, match="the --chmod option requires BuildKit"):
        check_legacy(copy.expand(Expander({"M": "755"})))
    with pytest.raises(DockerfileError, match="the --chmod option requires BuildKit"):
        check_legacy(add)
    check_legacy(plain)
    check_legacy(one("RUN echo no flags"))


def test_error_kinds_and_locations() -> None:
    with pytest.raises(DockerfileError) as info:
        parse_dockerfile("FROM a\n\nRNU x\n", file="sub/Dockerfile.dev")
    err = info.value
    assert isinstance(err, InvalidArgument) and err.status == 400
    assert str(err) == "dockerfile parse error on line 3: unknown instruction: RNU (did you mean RUN?)"
    assert (err.file, err.line, err.location) == ("sub/Dockerfile.dev", 3, "sub/Dockerfile.dev:3")
    assert err.message == "unknown instruction: RNU (did you mean RUN?)"

    with pytest.raises(DockerfileError) as info:
        parse_dockerfile("FROM a\nRUN <<EOF\nno end\n", file="Dockerfile.x")
    assert str(info.value) == "failed to parse Dockerfile.x: unterminated heredoc"
    assert (info.value.line, info.value.end_line) == (2, 3)

    with pytest.raises(DockerfileError) as info:
        parse_dockerfile(b"", file="Dockerfile")
    assert str(info.value) == "the Dockerfile (Dockerfile) cannot be empty"


def test_overlong_line() -> None:
    ok = "FROM a\nLABEL x=" + "a" * (65536 - len("LABEL x=") - 1) + "\n"
    assert parse_dockerfile(ok).stages
    with pytest.raises(DockerfileError) as info:
        parse_dockerfile(ok.replace("x=", "x=a"))
    assert str(info.value) == ("failed to parse Dockerfile: dockerfile line greater than max "
                               "allowed size of 65535")
    assert info.value.line == 2


def test_invalid_utf8_and_bytes_input() -> None:
    df = parse_dockerfile(b"FROM a\nRUN echo \xff\nLABEL k=\xfe\n")
    run, label = df.stages[0].commands
    assert run.cmd == ("echo \udcff",)  # kept byte-exact for the shell
    assert label.pairs[0].value == "\ufffd"  # words are read rune by rune, as in Go


def test_stages_and_lookup() -> None:
    df = parse_dockerfile("ARG A\nFROM x AS Build\nRUN a\nFROM build\nFROM scratch AS out\n")
    assert [a.args[0].key for a in df.meta_args] == ["A"]
    assert [(s.index, s.name, s.base) for s in df.stages] == [
        (0, "build", "x"), (1, "", "build"), (2, "out", "scratch")]
    assert df.find_stage("BUILD") is df.stages[0]
    assert df.find_stage("missing") is None
    assert df.escape == "\\" and df.warnings == [] and df.directives == []


def test_instruction_types() -> None:
    kinds = [type(i) for i in commands(
        "ENV a=b\nLABEL a=b\nARG a\nWORKDIR /\nUSER u\nSTOPSIGNAL 9\nVOLUME /v\nEXPOSE 1\n"
        "COPY a b\nADD a b\nRUN x\nCMD x\nSHELL [\"sh\"]\nHEALTHCHECK NONE\nONBUILD RUN x\n")]
    assert kinds == [Env, Label, Arg, Workdir, User, StopSignal, Volume, Expose, Copy, Add,
                     Run, Cmd, Shell, Healthcheck, Onbuild]
    assert one("CMD x").code == "CMD x" and one("CMD x").name == "cmd"
