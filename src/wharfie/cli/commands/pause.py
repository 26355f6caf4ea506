"""``wharfie pause`` and ``wharfie unpause``: freeze and thaw a container's processes."""

from __future__ import annotations

from wharfie.cli.command import PROG, Cli, Command, Options


def run_pause(cli: Cli, opts: Options, args: list[str]) -> int:
    from wharfie.cli.batch import each_container

    return each_container(cli, args, cli.client.container_pause)


def run_unpause(cli: Cli, opts: Options, args: list[str]) -> int:
    from wharfie.cli.batch import each_container

    return each_container(cli, args, cli.client.container_unpause)


def pause_command() -> Command:
    return Command(
        use="pause CONTAINER [CONTAINER...]",
        short="Pause all processes within one or more containers",
        aliases=f"{PROG} container pause, {PROG} pause",
        args=("min", 1),
        run=run_pause,
    )


def unpause_command() -> Command:
    return Command(
        use="unpause CONTAINER [CONTAINER...]",
        short="Unpause all processes within one or more containers",
        aliases=f"{PROG} container unpause, {PROG} unpause",
        args=("min", 1),
        run=run_unpause,
    )
