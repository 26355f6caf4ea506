"""``wharfie rename``: ``POST /containers/{id}/rename?name=…``."""

from __future__ import annotations

from wharfie.cli.command import PROG, Cli, CLIError, Command, Options


def run_rename(cli: Cli, opts: Options, args: list[str]) -> int:
    from wharfie.errors import WharfieError

    old, new = args[0].strip(), args[1].strip()
    if not old or not new:
        raise CLIError("Error: Neither old nor new names may be empty")
    try:
        cli.client.container_rename(old, new)
    except WharfieError as e:
        cli.err.write(f"{e}\n")
        raise CLIError(f"Error: failed to rename container named {old}") from None
    return 0


def rename_command() -> Command:
    return Command(
        use="rename CONTAINER NEW_NAME",
        short="Rename a container",
        aliases=f"{PROG} container rename, {PROG} rename",
        args=("exact", 2),
        run=run_rename,
    )
