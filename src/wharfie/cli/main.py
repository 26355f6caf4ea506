"""``wharfie`` entry point: global flags, dispatch, and the one error → exit-code map."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from wharfie import __version__
from wharfie.cli.command import (
    PROG,
    Cli,
    CLIError,
    Command,
    Flag,
    ShowHelp,
    StatusError,
    _FlagError,
    flag_usages,
    parse_flags,
    terminal_width,
)
from wharfie.cli.registry import COMMANDS, COMMON, MANAGEMENT, resolve
from wharfie.errors import WharfieError

_CONFIG_DIR = os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")

GLOBAL_FLAGS = [
    Flag("config", kind="string", help="Location of client config files",
         default=_CONFIG_DIR),
    Flag("context", "c", "string",
         'Name of the context to use to connect to the daemon (overrides DOCKER_HOST env var '
         'and default context set with "docker context use")'),
    Flag("debug", "D", "bool", "Enable debug mode"),
    Flag("host", "H", "list", "Daemon socket to connect to"),
    Flag("log-level", "l", "string",
         'Set the logging level ("debug", "info", "warn", "error", "fatal")', default="info"),
    Flag("tls", kind="bool", help="Use TLS; implied by --tlsverify"),
    Flag("tlscacert", kind="string", help="Trust certs signed only by this CA",
         default=os.path.join(_CONFIG_DIR, "ca.pem")),
    Flag("tlscert", kind="string", help="Path to TLS certificate file",
         default=os.path.join(_CONFIG_DIR, "cert.pem")),
    Flag("tlskey", kind="string", help="Path to TLS key file",
         default=os.path.join(_CONFIG_DIR, "key.pem")),
    Flag("tlsverify", kind="bool", help="Use TLS and verify the remote"),
    Flag("version", "v", "bool", "Print version information and quit"),
]

ROOT_USE = f"{PROG} [OPTIONS] COMMAND [ARG...]"


def _pad(name: str) -> str:
    return name.ljust(11)


def root_help() -> str:
    out = [f"Usage:  {PROG} [OPTIONS] COMMAND", "",
           "A self-sufficient runtime for containers", "", "Common Commands:"]
    for name in COMMON:
        out.append(f"  {_pad(name)} {COMMANDS[name][1]}")
    out += ["", "Management Commands:"]
    for name, (short, _subs, _aliases) in sorted(MANAGEMENT.items()):
        out.append(f"  {_pad(name)} {short}")
    out += ["", "Commands:"]
    for name, (_target, short) in sorted(COMMANDS.items()):
        if name not in COMMON:
            out.append(f"  {_pad(name)} {short}")
    out += ["", "Global Options:", flag_usages(GLOBAL_FLAGS, terminal_width() - 1).rstrip("\n"), "",
            f"Run '{PROG} COMMAND --help' for more information on a command.", ""]
    return "\n".join(out)


def management_help(name: str) -> str:
    short, subs, _aliases = MANAGEMENT[name]
    out = [f"Usage:  {PROG} {name} COMMAND", "", short, "", "Commands:"]
    for sub, (_target, sub_short) in sorted(subs.items()):
        out.append(f"  {_pad(sub)} {sub_short}")
    out += ["", f"Run '{PROG} {name} COMMAND --help' for more information on a command.", ""]
    return "\n".join(out)


def _load(target: str, path: str) -> Command:
    factory = resolve(target)
    cmd = factory()  # type: ignore[operator]
    assert isinstance(cmd, Command)
    cmd.path = path
    return cmd


def find_command(args: Sequence[str]) -> tuple[Command | None, list[str], str]:
    """Map ``args`` to (command, remaining args, error-path)."""
    if not args:
        return None, [], ""
    name = args[0]
    if name in COMMANDS:
        return _load(COMMANDS[name][0], f"{PROG} {name}"), list(args[1:]), ""
    if name in MANAGEMENT:
        _short, subs, aliases = MANAGEMENT[name]
        if len(args) > 1:
            sub = aliases.get(args[1], args[1])
            if sub in subs:
                return _load(subs[sub][0], f"{PROG} {name} {sub}"), list(args[2:]), ""
        return None, list(args[1:]), name
    return None, list(args), ""


def run(cli: Cli, argv: Sequence[str]) -> int:
    try:
        gopts, args = parse_flags(GLOBAL_FLAGS, argv, stop_at_first_arg=True)
    except ShowHelp:
        cli.out.write(root_help())
        return 0
    except _FlagError as e:
        raise StatusError(
            125, f"{e}\n\nUsage:  {ROOT_USE}\n\nRun '{PROG} --help' for more information"
        ) from None
    if gopts.version:
        cli.out.write(f"{PROG} version {__version__}\n")
        return 0
    if len(gopts.host) > 1:
        raise CLIError("Failed to initialize: unable to resolve daemon endpoint: Specify only one -H")
    if gopts.context and gopts.context != "default":
        raise CLIError(
            f'Failed to initialize: unable to resolve daemon endpoint: context "{gopts.context}": '
            "context not found"
        )
    cli.host = gopts.host[0] if gopts.host else None
    cli.debug = gopts.debug
    if gopts.host:
        from wharfie.client.transport import HostAddress

        try:
            HostAddress(gopts.host[0])
        except WharfieError as e:
            raise CLIError(f"Failed to initialize: unable to resolve daemon endpoint: {e}") from None
    if not args:
        cli.err.write(root_help())
        return 0
    if args[0] == "help":
        return _help(cli, args[1:])
    cmd, rest, group = find_command(args)
    if cmd is not None:
        return cmd.execute(cli, rest)
    if group:
        if not rest or rest[0] in ("-h", "--help"):
            cli.out.write(management_help(group))
            return 0
        if rest[0].startswith("-"):
            try:
                parse_flags([], rest[:1])
            except _FlagError as e:
                raise StatusError(
                    125,
                    f"{e}\n\nUsage:  {PROG} {group}\n\n"
                    f"Run '{PROG} {group} --help' for more information",
                ) from None
        raise CLIError(
            f"{PROG}: unknown command: {PROG} {group} {rest[0]}\n\nUsage:  {PROG} {group}\n\n"
            f"Run '{PROG} {group} --help' for more information"
        )
    raise CLIError(
        f"{PROG}: unknown command: {PROG} {args[0]}\n\nRun '{PROG} --help' for more information"
    )


def _help(cli: Cli, args: list[str]) -> int:
    if not args:
        cli.out.write(root_help())
        return 0
    cmd, rest, group = find_command(args)
    if cmd is not None and not rest:
        cli.out.write(cmd.help_text())
        return 0
    if group and not rest:
        cli.out.write(management_help(group))
        return 0
    raise CLIError(f"unknown help topic: {' '.join(args)}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (the console script exits with it)."""
    cli = Cli()
    try:
        rc = run(cli, sys.argv[1:] if argv is None else argv)
    except StatusError as e:
        if e.message:
            cli.err.write(e.message + "\n")
        rc = e.code
    except (CLIError, WharfieError) as e:
        msg = str(e)
        if msg:
            cli.err.write(msg + "\n")
        rc = _exit_code(e)
    except KeyboardInterrupt:
        rc = 130
    except BrokenPipeError:
        _silence_stdout()
        rc = 0
    try:
        cli.out.flush()
    except BrokenPipeError:
        _silence_stdout()
    return rc


def _exit_code(e: Exception) -> int:
    return 1


def _silence_stdout() -> None:
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    sys.exit(main())
