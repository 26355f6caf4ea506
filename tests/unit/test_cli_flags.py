"""Flag parsing (pflag semantics), argument rules, help text and exit codes."""

from __future__ import annotations

import json

import pytest

from wharfie.cli.command import Flag, ShowHelp, _FlagError, _wrap, flag_usages, parse_flags
from wharfie.cli.main import main
from wharfie.client.api import encode_query, escape_path, filters_json

FLAGS = [
    Flag("all", "a", "bool"),
    Flag("quiet", "q", "bool"),
    Flag("format", "", "string"),
    Flag("filter", "f", "filter"),
    Flag("change", "c", "list"),
    Flag("tail", "n", "int"),
]


def test_short_and_long_forms() -> None:
    opts, args = parse_flags(FLAGS, ["-aq", "x", "--format={{.ID}}", "-fdangling=true",
                                     "--filter", "label = a=b ", "-c", "CMD x", "-n5", "y"])
    assert opts.all and opts.quiet
    assert opts.format == "{{.ID}}"
    assert opts.filter == {"dangling": ["true"], "label": ["a=b"]}
    assert opts.change == ["CMD x"]
    assert opts.tail == 5
    assert args == ["x", "y"]
    assert opts.changed == {"all", "quiet", "format", "filter", "change", "tail"}


def test_bool_values_and_terminator() -> None:
    opts, args = parse_flags(FLAGS, ["--all=false", "-q=true", "--", "-a"])
    assert not opts.all and opts.quiet
    assert args == ["-a"]


def test_not_interspersed() -> None:
    opts, args = parse_flags(FLAGS, ["src", "-a", "dst"], interspersed=False)
    assert not opts.all
    assert args == ["src", "-a", "dst"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--foo"], "unknown flag: --foo"),
        (["-x"], "unknown shorthand flag: 'x' in -x"),
        (["-ax"], "unknown shorthand flag: 'x' in -x"),
        (["--format"], "flag needs an argument: --format"),
        (["-f"], "flag needs an argument: 'f' in -f"),
        (["-f", "bad"], 'invalid argument "bad" for "-f, --filter" flag: '
                        "bad format of filter (expected name=value)"),
        (["--all=maybe"], 'invalid argument "maybe" for "-a, --all" flag: '
                          'strconv.ParseBool: parsing "maybe": invalid syntax'),
        (["-n", "x"], 'invalid argument "x" for "-n, --tail" flag: '
                      'strconv.ParseInt: parsing "x": invalid syntax'),
    ],
)
def test_flag_errors(argv: list[str], message: str) -> None:
    with pytest.raises(_FlagError) as exc:
        parse_flags(FLAGS, argv)
    assert str(exc.value) == message


def test_help_flag() -> None:
    with pytest.raises(ShowHelp):
        parse_flags(FLAGS, ["-h"])
    with pytest.raises(ShowHelp):
        parse_flags(FLAGS, ["x", "--help"])


def test_filters_json_and_query_encoding() -> None:
    assert filters_json({"reference": ["busybox"], "dangling": ["true"]}) == (
        '{"dangling":{"true":true},"reference":{"busybox":true}}'
    )
    assert json.loads(filters_json({"label": ["a=<b>"]})) == {"label": {"a=<b>": True}}
    assert "\\u003c" in filters_json({"label": ["<"]})
    assert encode_query({"tag": "1", "repo": "localhost:5000/my img", "n": None}) == (
        "repo=localhost%3A5000%2Fmy+img&tag=1"
    )
    assert encode_query({"names": ["a", "b:1"]}) == "names=a&names=b%3A1"
    assert escape_path("/images/localhost:5000/foo bar:1/json") == (
        "/images/localhost:5000/foo%20bar:1/json"
    )


def test_flag_usages_layout() -> None:
    text = flag_usages([
        Flag("all", "a", "bool", "Show all images (default hides intermediate images)"),
        Flag("filter", "f", "filter", "Filter output based on conditions provided"),
        Flag("human", "H", "bool", "Print sizes and dates in human readable format",
             default=True),
    ], 79)
    assert text == (
        "  -a, --all             Show all images (default hides intermediate images)\n"
        "  -f, --filter filter   Filter output based on conditions provided\n"
        "  -H, --human           Print sizes and dates in human readable format\n"
        "                        (default true)\n"
    )
    assert _wrap(27, 79, 'Set the logging level ("debug", "info", "warn", "error", "fatal") '
                 '(default "info")') == (
        'Set the logging level ("debug", "info",\n'
        '                           "warn", "error", "fatal") (default "info")'
    )


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_usage_errors_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run_cli(capsys, "images", "--foo")
    assert rc == 125
    assert err == (
        "unknown flag: --foo\n\nUsage:  wharfie images [OPTIONS] [REPOSITORY[:TAG]]\n\n"
        "Run 'wharfie images --help' for more information\n"
    )
    rc, out, err = run_cli(capsys, "tag", "a")
    assert rc == 1
    assert err.startswith("wharfie: 'wharfie tag' requires 2 arguments\n")
    rc, out, err = run_cli(capsys, "rmi")
    assert rc == 1 and "requires at least 1 argument" in err and "See 'wharfie rmi --help'" in err
    rc, out, err = run_cli(capsys, "version", "x")
    assert rc == 1 and err.startswith("wharfie: 'wharfie version' accepts no arguments")
    rc, out, err = run_cli(capsys, "frobnicate")
    assert rc == 1
    assert err == ("wharfie: unknown command: wharfie frobnicate\n\n"
                   "Run 'wharfie --help' for more information\n")
    rc, out, err = run_cli(capsys, "image", "frob")
    assert rc == 1 and "unknown command: wharfie image frob" in err
    rc, out, err = run_cli(capsys, "--bogus")
    assert rc == 125 and err.startswith("unknown flag: --bogus")
    rc, out, err = run_cli(capsys, "-H", "a", "-H", "b", "images")
    assert rc == 1 and "Specify only one -H" in err


def test_help_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run_cli(capsys, "--version")
    assert rc == 0 and out == "wharfie version 0.1.0\n"
    rc, out, err = run_cli(capsys, "--help")
    assert rc == 0
    assert out.startswith("Usage:  wharfie [OPTIONS] COMMAND\n")
    for name in ("images", "version", "info", "image", "system", "events", "history",
                 "import", "inspect", "load", "rmi", "save", "tag"):
        assert f"\n  {name.ljust(11)} " in out
    rc, out, err = run_cli(capsys, "images", "--help")
    assert rc == 0 and out.startswith("Usage:  wharfie images [OPTIONS] [REPOSITORY[:TAG]]\n\n")
    assert "Aliases:\n  wharfie image ls, wharfie image list, wharfie images\n" in out
    rc, out, err = run_cli(capsys, "image", "ls", "--help")
    assert out.startswith("Usage:  wharfie image ls [OPTIONS] [REPOSITORY[:TAG]]\n")
    rc, out, err = run_cli(capsys, "image")
    assert rc == 0 and "  prune       Remove unused images\n" in out
    rc, out, err = run_cli(capsys, "help", "tag")
    assert rc == 0 and out.startswith("Usage:  wharfie tag SOURCE_IMAGE[:TAG]")
    rc, out, err = run_cli(capsys, "help", "nope")
    assert rc == 1 and err == "unknown help topic: nope\n"


def test_connection_failure_message(capsys: pytest.CaptureFixture[str], tmp_path) -> None:  # type: ignore[no-untyped-def]
    sock = tmp_path / "none.sock"
    rc, out, err = run_cli(capsys, "-H", f"unix://{sock}", "images")
    assert rc == 1
    assert err == (
        f"Cannot connect to the wharfie daemon at unix://{sock}. Is the daemon running?\n"
    )


def test_default_host(monkeypatch: pytest.MonkeyPatch) -> None:
    from wharfie.client.api import DEFAULT_HOST, APIClient

    monkeypatch.delenv("DOCKER_HOST", raising=False)
    assert APIClient().host == DEFAULT_HOST == "unix:///run/wharfie/wharfie.sock"
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:2375")
    client = APIClient()
    assert (client.address.proto, client.address.host, client.address.port) == (
        "tcp", "127.0.0.1", 2375)
    assert APIClient("unix:///var/run/docker.sock").address.path == "/var/run/docker.sock"
