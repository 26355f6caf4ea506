"""``wharfie export``: a container's filesystem as a tar archive, to a file or stdout."""

from __future__ import annotations

from wharfie.cli.command import PROG, Cli, CLIError, Command, Flag, Options


def run_export(cli: Cli, opts: Options, args: list[str]) -> int:
    from wharfie.cli.commands.save import write_stream

    if not opts.output and cli.out_is_terminal():
        raise CLIError("cowardly refusing to save to a terminal. Use the -o flag or redirect")
    write_stream(cli, cli.client.request("GET", f"/containers/{args[0]}/export"), opts.output)
    return 0


def export_command() -> Command:
    return Command(
        use="export [OPTIONS] CONTAINER",
        short="Export a container's filesystem as a tar archive",
        aliases=f"{PROG} container export, {PROG} export",
        flags=[Flag("output", "o", "string", "Write to a file, instead of STDOUT")],
        args=("exact", 1),
        run=run_export,
    )
