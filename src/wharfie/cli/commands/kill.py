"""``wharfie kill``: ``POST /containers/{id}/kill[?signal=…]``."""

from __future__ import annotations

from wharfie.cli.command import PROG, Cli, Command, Flag, Options


def run_kill(cli: Cli, opts: Options, args: list[str]) -> int:
    from wharfie.cli.batch import each_container

    client = cli.client
    return each_container(cli, args, lambda name: client.container_kill(name, opts.signal))


def kill_command() -> Command:
    return Command(
        use="kill [OPTIONS] CONTAINER [CONTAINER...]",
        short="Kill one or more running containers",
        aliases=f"{PROG} container kill, {PROG} kill",
        flags=[Flag("signal", "s", "string", "Signal to send to the container")],
        args=("min", 1),
        run=run_kill,
    )
