"""Command specs, a pflag-style flag parser and cobra-style help, for docker parity.

A verb module exposes a factory returning a :class:`Command`; the registry maps the
command name to ``"module:factory"`` so only the invoked verb is imported.
Flag syntax follows spf13/pflag (``-abc``, ``-fVALUE``, ``--flag=value``,
``--bool=false``, ``--`` ends flags), and the error texts and exit codes follow the
docker CLI: flag errors exit 125, argument-count errors exit 1.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence

TYPE_CHECKING = False  # typing costs milliseconds at startup; only mypy needs it here
if TYPE_CHECKING:
    from typing import IO, Any

    from wharfie.client.api import APIClient

PROG = "wharfie"

FORMAT_HELP = (
    "Format output using a custom template:\n"
    "'table':            Print output in table format with column headers (default)\n"
    "'table TEMPLATE':   Print output in table format using the given Go template\n"
    "'json':             Print in JSON format\n"
    "'TEMPLATE':         Print output using the given Go template.\n"
    "Refer to https://docs.docker.com/go/formatting/ for more information about "
    "formatting output with templates"
)
INSPECT_FORMAT_HELP = (
    "Format output using a custom template:\n"
    "'json':             Print in JSON format\n"
    "'TEMPLATE':         Print output using the given Go template.\n"
    "Refer to https://docs.docker.com/go/formatting/ for more information about "
    "formatting output with templates"
)


class StatusError(Exception):
    """Exit with ``code`` after printing ``message`` (if any) on stderr."""

    def __init__(self, code: int, message: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class CLIError(Exception):
    """A plain error: message on stderr, exit status 1."""


class ShowHelp(Exception):
    """Raised by the parser for ``-h/--help``."""


# ----------------------------------------------------------------------------
# Flags

_BOOL_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_BOOL_FALSE = {"0", "f", "F", "FALSE", "false", "False"}


class Flag:
    """One flag. ``kind`` is bool | string | int | list | filter | strings | value.

    pflag's custom ``Value`` types are modelled with ``convert`` (validates and
    converts one argument; raise ``ValueError(reason)`` to reject it) and ``metavar``
    (the type name shown in help: ``bytes``, ``decimal``, ``map``...). ``list``
    flags append each converted value; ``value`` flags store the last one.
    ``default_text`` is shown as ``(default …)`` verbatim; ``dest_name`` lets two
    flags share one destination (``--net``/``--network``); ``deprecated`` makes
    use of the flag print pflag's deprecation notice.
    """

    __slots__ = ("name", "short", "kind", "help", "default", "hidden", "convert", "metavar",
                 "default_text", "dest_name", "deprecated")

    def __init__(self, name: str, short: str = "", kind: str = "bool", help: str = "",
                 default: Any = None, hidden: bool = False,
                 convert: Callable[[str], Any] | None = None, metavar: str | None = None,
                 default_text: str = "", dest_name: str = "", deprecated: str = "") -> None:
        self.name = name
        self.short = short
        self.kind = kind
        self.help = help
        self.default = default
        self.hidden = hidden
        self.convert = convert
        self.metavar = metavar
        self.default_text = default_text
        self.dest_name = dest_name
        self.deprecated = deprecated

    @property
    def dest(self) -> str:
        return (self.dest_name or self.name).replace("-", "_")

    def initial(self) -> Any:
        if self.kind in ("list", "strings"):
            return list(self.default or [])
        if self.kind == "filter":
            return {}
        if self.default is not None:
            return self.default
        return {"bool": False, "string": "", "int": 0}.get(self.kind)

    def display(self) -> str:
        if self.short:
            return f"-{self.short}, --{self.name}"
        return f"--{self.name}"

    @property
    def varname(self) -> str:
        if self.metavar is not None:
            return self.metavar
        return {"bool": "", "string": "string", "int": "int", "list": "list",
                "filter": "filter", "strings": "strings", "value": "value"}[self.kind]


class Options:
    """Parsed flag values as attributes, plus ``changed`` (names set on the line)."""

    def __init__(self) -> None:
        self.changed: set[str] = set()
        self.deprecations: list[str] = []

    def __getattr__(self, name: str) -> Any:  # for mypy: dynamic attributes
        raise AttributeError(name)


def _invalid(flag: Flag, value: str, reason: str) -> CLIError:
    flagname = f"-{flag.short}, --{flag.name}" if flag.short else f"--{flag.name}"
    return _FlagError(f'invalid argument "{value}" for "{flagname}" flag: {reason}')


class _FlagError(CLIError):
    pass


def _set_flag(opts: Options, flag: Flag, value: str) -> None:
    dest = flag.dest
    if flag.convert is not None and flag.kind in ("list", "value", "string"):
        try:
            converted = flag.convert(value)
        except ValueError as e:
            raise _invalid(flag, value, str(e)) from None
        if flag.kind == "list":
            getattr(opts, dest).append(converted)
        else:
            setattr(opts, dest, converted)
        opts.changed.add(flag.name)
        return
    if flag.kind == "bool":
        if value in _BOOL_TRUE:
            setattr(opts, dest, True)
        elif value in _BOOL_FALSE:
            setattr(opts, dest, False)
        else:
            raise _invalid(flag, value, f'strconv.ParseBool: parsing "{value}": invalid syntax')
    elif flag.kind == "int":
        try:
            setattr(opts, dest, int(value, 0) if value.lower().startswith(("0x", "0o", "0b")) else int(value))
        except ValueError:
            raise _invalid(flag, value, f'strconv.ParseInt: parsing "{value}": invalid syntax') from None
    elif flag.kind == "list":
        getattr(opts, dest).append(value)
    elif flag.kind == "strings":
        if value:
            getattr(opts, dest).extend(value.split(","))
    elif flag.kind == "filter":
        if value == "":
            return
        if "=" not in value:
            raise _invalid(flag, value, "bad format of filter (expected name=value)")
        name, val = value.split("=", 1)
        getattr(opts, dest).setdefault(name.strip().lower(), []).append(val.strip())
    else:
        setattr(opts, dest, value)
    opts.changed.add(flag.name)


def parse_flags(
    flags: Sequence[Flag], argv: Sequence[str], interspersed: bool = True,
    stop_at_first_arg: bool = False,
) -> tuple[Options, list[str]]:
    """Parse ``argv`` like pflag. Raises ``_FlagError`` or ``ShowHelp``."""
    opts = Options()
    by_name = {f.name: f for f in flags}
    by_short = {f.short: f for f in flags if f.short}
    for f in flags:
        if f.dest_name and hasattr(opts, f.dest):
            continue
        setattr(opts, f.dest, f.initial())
    positional: list[str] = []
    args = list(argv)
    i = 0
    while i < len(args):
        a = args[i]
        i += 1
        if a == "--":
            positional.extend(args[i:])
            break
        if not a.startswith("-") or a == "-":
            positional.append(a)
            if not interspersed or stop_at_first_arg:
                positional.extend(args[i:])
                break
            continue
        if a.startswith("--"):
            name, eq, value = a[2:].partition("=")
            flag = by_name.get(name)
            if flag is None:
                if name == "help":
                    raise ShowHelp()
                raise _FlagError(f"unknown flag: --{name}")
            if flag.deprecated:
                opts.deprecations.append(
                    f"Flag --{flag.name} has been deprecated, {flag.deprecated}")
            if eq:
                _set_flag(opts, flag, value)
            elif flag.kind == "bool":
                _set_flag(opts, flag, "true")
            elif i < len(args):
                _set_flag(opts, flag, args[i])
                i += 1
            else:
                raise _FlagError(f"flag needs an argument: --{name}")
            continue
        shorts = a[1:]
        while shorts:
            c = shorts[0]
            flag = by_short.get(c)
            if flag is None:
                if c == "h":
                    raise ShowHelp()
                raise _FlagError(f"unknown shorthand flag: '{c}' in -{shorts}")
            if len(shorts) > 2 and shorts[1] == "=":
                _set_flag(opts, flag, shorts[2:])
                shorts = ""
            elif flag.kind == "bool":
                _set_flag(opts, flag, "true")
                shorts = shorts[1:]
            elif len(shorts) > 1:
                _set_flag(opts, flag, shorts[1:])
                shorts = ""
            elif i < len(args):
                _set_flag(opts, flag, args[i])
                i += 1
                shorts = ""
            else:
                raise _FlagError(f"flag needs an argument: '{c}' in -{shorts}")
    return opts, positional


# ----------------------------------------------------------------------------
# Help text (cobra + pflag layout)


def _wrap_n(i: int, slop: int, s: str) -> tuple[str, str]:
    if i + slop > len(s):
        return s, ""
    w = max(s.rfind(" ", 0, i), s.rfind("\t", 0, i), s.rfind("\n", 0, i))
    if w <= 0:
        return s, ""
    nl = s.rfind("\n", 0, i)
    if 0 < nl < w:
        return s[:nl], s[nl + 1 :]
    return s[:w], s[w + 1 :]


def _wrap(i: int, w: int, s: str) -> str:
    """pflag's usage wrapping: indent ``i``, total width ``w``."""
    if w == 0:
        return s.replace("\n", "\n" + " " * i)
    wrap = w - i
    r = ""
    if wrap < 24:
        i = 16
        wrap = w - i
        r += "\n" + " " * i
    if wrap < 24:
        return s.replace("\n", r)
    slop = 5
    wrap -= slop
    line, s = _wrap_n(wrap, slop, s)
    r += line.replace("\n", "\n" + " " * i)
    while s:
        line, s = _wrap_n(wrap, slop, s)
        r += "\n" + " " * i + line.replace("\n", "\n" + " " * i)
    return r


def flag_usages(flags: Sequence[Flag], cols: int = 80) -> str:
    lines = []
    maxlen = 0
    for f in sorted((f for f in flags if not f.hidden and not f.deprecated),
                    key=lambda f: f.name):
        line = f"  -{f.short}, --{f.name}" if f.short else f"      --{f.name}"
        if f.varname:
            line += " " + f.varname
        line += "\x00"
        maxlen = max(maxlen, len(line))
        line += f.help
        if f.default_text:
            line += f" (default {f.default_text})"
        elif f.kind == "bool" and f.default:
            line += " (default true)"
        elif f.kind == "string" and f.default:
            line += f' (default "{f.default}")'
        elif f.kind == "int" and f.default:
            line += f" (default {f.default})"
        lines.append(line)
    out = []
    for line in lines:
        sidx = line.index("\x00")
        spacing = " " * (maxlen - sidx)
        out.append(line[:sidx] + " " + spacing + " " + _wrap(maxlen + 2, cols, line[sidx + 1 :]))
    return "\n".join(out) + ("\n" if out else "")


def terminal_width() -> int:
    try:
        return os.get_terminal_size(0).columns or 80
    except OSError:
        return 80


# ----------------------------------------------------------------------------
# Commands


class Command:
    """One verb: its usage line, flags, argument rule and implementation.

    ``use`` is ``"images [OPTIONS] [REPOSITORY[:TAG]]"``; ``aliases`` the help's
    "Aliases:" line; ``args`` is (none|exact|min|max|any, n); ``path`` (like
    ``"wharfie image ls"``) is filled in by the dispatcher.
    """

    def __init__(
        self,
        use: str,
        short: str,
        run: Callable[[Cli, Options, list[str]], int | None],
        flags: list[Flag] | None = None,
        aliases: str = "",
        args: tuple[str, int] = ("any", 0),
        interspersed: bool = True,
        path: str = "",
        long: str = "",
    ) -> None:
        self.use = use
        self.long = long
        self.short = short
        self.run = run
        self.flags = flags or []
        self.aliases = aliases
        self.args = args
        self.interspersed = interspersed
        self.path = path

    @property
    def name(self) -> str:
        return self.use.split()[0]

    def use_line(self) -> str:
        rest = self.use.split(" ", 1)[1] if " " in self.use else ""
        return f"{self.path} {rest}".rstrip()

    def help_text(self) -> str:
        out = [f"Usage:  {self.use_line()}", "", self.long or self.short, ""]
        if self.aliases:
            out += ["Aliases:", "  " + self.aliases, ""]
        visible = [f for f in self.flags if not f.hidden and not f.deprecated]
        if visible:
            out += ["Options:", flag_usages(visible, terminal_width() - 1).rstrip("\n"), ""]
        return "\n".join(out)

    def check_args(self, args: list[str]) -> None:
        rule, n = self.args
        bin_name = PROG
        path = self.path
        usage = self.use_line()

        def plural(k: int) -> str:
            return "argument" if k == 1 else "arguments"

        if rule == "none" and args:
            raise CLIError(
                f"{bin_name}: '{path}' accepts no arguments\n\nUsage:  {usage}\n\n"
                f"Run '{path} --help' for more information"
            )
        if rule == "exact" and len(args) != n:
            raise CLIError(
                f"{bin_name}: '{path}' requires {n} {plural(n)}\n\nUsage:  {usage}\n\n"
                f"Run '{path} --help' for more information"
            )
        if rule == "min" and len(args) < n:
            raise CLIError(
                f"{bin_name}: '{path}' requires at least {n} {plural(n)}\n\nUsage:  {usage}\n\n"
                f"See '{path} --help' for more information"
            )
        if rule == "range" and not 1 <= len(args) <= n:
            raise CLIError(
                f"{bin_name}: '{path}' requires at least 1 and at most {n} {plural(n)}\n\n"
                f"Usage:  {usage}\n\nRun '{path} --help' for more information"
            )
        if rule == "max" and len(args) > n:
            # docker prints "SRun" here (a typo in cli/required.go); we print "Run".
            raise CLIError(
                f"{bin_name}: '{path}' requires at most {n} {plural(n)}\n\nUsage:  {usage}\n\n"
                f"Run '{path} --help' for more information"
            )

    def execute(self, cli: Cli, argv: list[str]) -> int:
        try:
            opts, args = parse_flags(self.flags, argv, self.interspersed)
        except ShowHelp:
            cli.out.write(self.help_text())
            return 0
        except _FlagError as e:
            raise StatusError(
                125,
                f"{e}\n\nUsage:  {self.use_line()}\n\nRun '{self.path} --help' for more information",
            ) from None
        if getattr(opts, "help", False) is True:
            cli.out.write(self.help_text())
            return 0
        for notice in opts.deprecations:
            cli.out.write(notice + "\n")  # docker's flag set writes it to stdout
        self.check_args(args)
        rc = self.run(cli, opts, args)
        return rc or 0


# ----------------------------------------------------------------------------
# The CLI context handed to every command


class Cli:
    """Streams, global options and the (lazily created) API client."""

    def __init__(
        self,
        host: str | None = None,
        debug: bool = False,
        out: IO[str] | None = None,
        err: IO[str] | None = None,
        stdin: IO[str] | None = None,
    ) -> None:
        self.host = host
        self.debug = debug
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.stdin = stdin or sys.stdin
        self._client: APIClient | None = None

    @property
    def client(self) -> APIClient:
        if self._client is None:
            from wharfie.client.api import APIClient

            self._client = APIClient(self.host)
        return self._client

    def out_is_terminal(self) -> bool:
        try:
            return self.out.isatty()
        except (AttributeError, ValueError):
            return False

    def in_is_terminal(self) -> bool:
        try:
            return self.stdin.isatty()
        except (AttributeError, ValueError):
            return False

    @property
    def out_binary(self) -> IO[bytes]:
        buf = getattr(self.out, "buffer", None)
        if buf is None:
            raise CLIError("output stream does not accept binary data")
        self.out.flush()
        return buf

    @property
    def err_binary(self) -> IO[bytes]:
        buf = getattr(self.err, "buffer", None)
        if buf is None:
            raise CLIError("error stream does not accept binary data")
        self.err.flush()
        return buf

    @property
    def in_binary(self) -> IO[bytes]:
        buf = getattr(self.stdin, "buffer", None)
        if buf is None:
            raise CLIError("input stream does not provide binary data")
        return buf
