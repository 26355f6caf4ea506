"""``wharfie diff``: what a container's filesystem added (A), changed (C) and deleted (D)."""

from __future__ import annotations

from wharfie.cli.command import PROG, Cli, Command, Options

KINDS = {0: "C", 1: "A", 2: "D"}


def run_diff(cli: Cli, opts: Options, args: list[str]) -> int:
    for change in cli.client.get_json(f"/containers/{args[0]}/changes") or []:
        cli.out.write(f"{KINDS.get(change['Kind'], '?')} {change['Path']}\n")
    return 0


def diff_command() -> Command:
    return Command(
        use="diff CONTAINER",
        short="Inspect changes to files or directories on a container's filesystem",
        aliases=f"{PROG} container diff, {PROG} diff",
        args=("exact", 1),
        run=run_diff,
    )
