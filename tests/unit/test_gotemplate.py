"""The Go text/template subset used for docker-style --format strings.

Expected outputs and error texts were checked against docker CLI 28.2.2.
"""

from __future__ import annotations

import pytest

from wharfie.cli.gotemplate import (
    NIL_MAP,
    NIL_SLICE,
    ExecError,
    GoMap,
    GoStruct,
    OmitEmptyDict,
    ParseError,
    go_json,
    go_sprintf,
    parse,
)

DATA = {
    "Id": "sha256:abc",
    "RepoTags": ["busybox:latest", "busybox:x"],
    "Labels": {"k": "v", "a": "b"},
    "Config": {"Env": ["A=1", "B=2"], "Cmd": ["sh"], "Entrypoint": None},
    "Size": 1982297,
    "Empty": "",
    "Flag": True,
    "Name": "hello world",
}


def render(text: str, data: object = DATA, **kw: object) -> str:
    return parse(text).execute(data, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("{{.Id}}", "sha256:abc"),
        ("{{.Config.Cmd}}", "[sh]"),
        ("{{.RepoTags}}", "[busybox:latest busybox:x]"),
        ("{{.Labels}}", "map[a:b k:v]"),
        ("{{.Size}}", "1982297"),
        ("{{.Flag}}", "true"),
        ("{{json .Config}}", '{"Env":["A=1","B=2"],"Cmd":["sh"],"Entrypoint":null}'),
        ("{{.Config | json}}", '{"Env":["A=1","B=2"],"Cmd":["sh"],"Entrypoint":null}'),
        ('{{index .Labels "k"}}', "v"),
        ('{{index .Labels "missing"}}', ""),
        ("{{index .RepoTags 1}}", "busybox:x"),
        ("{{range .RepoTags}}{{.}} {{end}}", "busybox:latest busybox:x "),
        ("{{range $i, $t := .RepoTags}}{{$i}}={{$t}};{{end}}", "0=busybox:latest;1=busybox:x;"),
        ("{{range $k, $v := .Labels}}{{$k}}={{$v}},{{end}}", "a=b,k=v,"),
        ("{{range .Missing}}x{{else}}none{{end}}", "none"),
        ("{{if .Flag}}yes{{else}}no{{end}}", "yes"),
        ("{{if .Empty}}yes{{else}}no{{end}}", "no"),
        ("{{if .Empty}}a{{else if .Flag}}b{{else}}c{{end}}", "b"),
        ("{{with .Config}}{{.Cmd}}{{end}}", "[sh]"),
        ("{{with .Empty}}x{{else}}empty{{end}}", "empty"),
        ('{{join .RepoTags ","}}', "busybox:latest,busybox:x"),
        ("{{upper .Name}}", "HELLO WORLD"),
        ("{{lower (upper .Name)}}", "hello world"),
        ("{{title .Name}}", "Hello World"),
        ('{{split .Name " "}}', "[hello world]"),
        ('{{index (split .Name " ") 1}}', "world"),
        ("{{println .Size}}", "1982297\n"),
        ('{{printf "%s=%d" .Id .Size}}', "sha256:abc=1982297"),
        ('{{printf "%-6s|" "ab"}}', "ab    |"),
        ('{{printf "%q" .Id}}', '"sha256:abc"'),
        ('{{printf "%v %t" .RepoTags .Flag}}', "[busybox:latest busybox:x] true"),
        ("{{len .RepoTags}}", "2"),
        ("{{len .Name}}", "11"),
        ("{{.Size | printf \"%08d\"}}", "01982297"),
        ("a  {{- .Id -}}  b", "asha256:abcb"),
        ("a {{- /* comment */ -}} b", "ab"),
        ("{{/* only a comment */}}", ""),
        ("{{$x := .Size}}{{$x}}", "1982297"),
        ("{{$x := 1}}{{$x = 2}}{{$x}}", "2"),
        ("{{$}}" if False else "{{$.Id}}", "sha256:abc"),
        ("{{eq .Id \"sha256:abc\"}}", "true"),
        ("{{ne .Size 3}}", "true"),
        ("{{eq .Size 1 2 1982297}}", "true"),
        ("{{lt 1 2}} {{ge 2 2}} {{gt 1.5 2.5}}", "true true false"),
        ("{{and .Flag .Empty}}|{{or .Empty .Id}}", "|sha256:abc"),
        ("{{not .Flag}}", "false"),
        ('{{pad "x" 1 2}}|', " x  |"),
        ('{{truncate "abcdef" 3}}', "abc"),
        ("{{range .RepoTags}}{{if eq . \"busybox:x\"}}{{break}}{{end}}{{.}}{{end}}",
         "busybox:latest"),
        ("{{range .RepoTags}}{{if eq . \"busybox:latest\"}}{{continue}}{{end}}{{.}}{{end}}",
         "busybox:x"),
        ("{{.Missing}}", "<no value>"),
        ("{{.Config.Entrypoint}}", "<nil>"),
        ("{{print 1 2 \"a\" \"b\" 3}}", "1 2ab3"),
        ("{{html \"<a>\"}}", "&lt;a&gt;"),
        ("{{(index .Config.Env 0)}}", "A=1"),
        ("{{range 3}}{{.}}{{end}}", "012"),
        ("{{'a'}}", "97"),
        ("{{0x10}} {{1e3}} {{-2}}", "16 1000 -2"),
    ],
)
def test_render(text: str, expected: str) -> None:
    assert render(text) == expected


@pytest.mark.parametrize(
    "text, message",
    [
        ("{{.ID", "template: :1: unclosed action"),
        ("{{end}}", "template: :1: unexpected {{end}}"),
        ("{{else}}", "template: :1: unexpected {{else}}"),
        ("{{if .X}}", "template: :1: unexpected EOF"),
        ("{{foo .X}}", 'template: :1: function "foo" not defined'),
        ("{{}}", "template: :1: missing value for command"),
        ("{{$x}}", 'template: :1: undefined variable "$x"'),
        ('{{"abc}}', "template: :1: unterminated quoted string"),
        ("{{(.X}}", "template: :1: unclosed left paren"),
        ("{{.X | 3}}", "template: :1: non executable command in pipeline stage 2"),
        ("{{break}}", "template: :1: {{break}} outside {{range}}"),
        ("line1\n{{.X", "template: :2: unclosed action"),
    ],
)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(ParseError) as exc:
        parse(text)
    assert str(exc.value) == message


def test_struct_unknown_field_is_an_error() -> None:
    row = GoStruct("*formatter.imageContext", {"ID": "abc"})
    assert render("{{.ID}}", row) == "abc"
    with pytest.raises(ExecError) as exc:
        render("{{.Foo}}", row)
    assert str(exc.value) == (
        'template: :1:2: executing "" at <.Foo>: '
        "can't evaluate field Foo in type *formatter.imageContext"
    )


def test_missingkey_error_mode_and_chain_position() -> None:
    # docker inspect falls back to the raw map with missingkey=error
    with pytest.raises(ExecError) as exc:
        render("{{.Config.Foo}}", DATA, missingkey_error=True)
    assert str(exc.value) == (
        'template: :1:9: executing "" at <.Config.Foo>: map has no entry for key "Foo"'
    )
    # ... but a Go map (Labels) yields <no value>
    data = {"Labels": GoMap({"a": "b"})}
    assert render("{{.Labels.x}}", data, missingkey_error=True) == "<no value>"
    # ID falls back to the JSON key Id (typed struct field name)
    assert render("{{.ID}}", {"Id": "x"}, missingkey_error=True) == "x"


def test_exec_errors_of_functions() -> None:
    with pytest.raises(ExecError) as exc:
        render("{{index .RepoTags 5}}")
    assert str(exc.value) == (
        'template: :1:2: executing "" at <index .RepoTags 5>: '
        "error calling index: index out of range: 5"
    )
    with pytest.raises(ExecError) as exc:
        render("{{json}}")
    assert "wrong number of args for json: want 1 got 0" in str(exc.value)
    with pytest.raises(ExecError) as exc:
        render("{{eq .Size \"x\"}}")
    assert "incompatible types for comparison" in str(exc.value)


def test_long_context_is_truncated() -> None:
    with pytest.raises(ExecError) as exc:
        render("{{.Config.Labels.Something}}", DATA, missingkey_error=True)
    assert "at <.Config.Labels.Somet...>" in str(exc.value)


def test_typed_nils_and_omitempty() -> None:
    data = {"Entrypoint": NIL_SLICE, "Labels": NIL_MAP}
    assert render("{{.Entrypoint}} {{.Labels}}", data) == "[] map[]"
    assert render("{{json .Entrypoint}}", data) == "null"
    assert render("{{len .Entrypoint}}{{range .Labels}}x{{end}}", data) == "0"
    cfg = OmitEmptyDict({"Hostname": "", "Env": ["A=1"], "Cmd": ["sh"], "Tty": False},
                        ("Env", "Cmd", "Tty"))
    assert render("{{json .}}", cfg) == '{"Env":["A=1"],"Cmd":["sh"]}'
    assert render("{{.Hostname}}|", cfg) == "|"


def test_struct_json_uses_json_names_and_omitempty() -> None:
    s = GoStruct(
        "*events.Message",
        {"Status": "", "Type": "image", "Action": "tag", "TimeNano": 5},
        json_names={"Status": "status", "TimeNano": "timeNano"},
        omitempty=("Status",),
    )
    assert render("{{json .}}", s) == '{"Type":"image","Action":"tag","timeNano":5}'
    assert render("{{.Type}} {{.TimeNano}}", s) == "image 5"


def test_go_json_escaping() -> None:
    assert go_json("<none>") == '"<none>"'
    assert go_json("<none>", escape_html=True) == '"\\u003cnone\\u003e"'
    assert go_json("a\"b\\c\nd\x01") == '"a\\"b\\\\c\\nd\\u0001"'
    assert go_json({"b": 1, "a": [True, None, 1.5, 2.0]}) == '{"b":1,"a":[true,null,1.5,2]}'
    assert go_json("é") == '"é"'


def test_sprintf_subset() -> None:
    assert go_sprintf("%s|%5s|%-5s|", "a", "b", "c") == "a|    b|c    |"
    assert go_sprintf("%d %x %X %o %b", 255, 255, 255, 8, 5) == "255 ff FF 10 101"
    assert go_sprintf("%.2f %v", 3.14159, 2.5) == "3.14 2.5"
    assert go_sprintf("%d", "x") == "%!d(string=x)"
    assert go_sprintf("%s %s", "a") == "a %!s(MISSING)"
    assert go_sprintf("%s", "a", 1) == "a%!(EXTRA int=1)"
    assert go_sprintf("100%%") == "100%"


def test_header_functions_leave_column_names_intact() -> None:
    from wharfie.cli.gotemplate import HEADER_FUNCS

    header = {"Repository": "REPOSITORY", "Tag": "TAG"}
    tmpl = parse("{{upper .Repository}}\t{{json .Tag}}")
    assert tmpl.execute(header, funcs=HEADER_FUNCS) == "REPOSITORY\tTAG"


def test_partial_output_on_error() -> None:
    partial: list[str] = []
    with pytest.raises(ExecError):
        parse("ok {{.Size}} {{index .RepoTags 9}}").execute(DATA, partial=partial)
    assert partial == ["ok 1982297 "]
