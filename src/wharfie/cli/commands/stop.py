"""``wharfie stop`` and ``wharfie restart``: ``POST /containers/{id}/stop|restart``."""

from __future__ import annotations

from wharfie.cli.command import PROG, Cli, CLIError, Command, Flag, Options


def _timeout(opts: Options) -> int | None:
    if "time" in opts.changed and "timeout" in opts.changed:
        raise CLIError("conflicting options: cannot specify both --timeout and --time")
    if "time" in opts.changed or "timeout" in opts.changed:
        return int(opts.timeout)
    return None


def run_stop(cli: Cli, opts: Options, args: list[str]) -> int:
    from wharfie.cli.batch import each_container

    timeout = _timeout(opts)
    client = cli.client
    return each_container(
        cli, args, lambda name: client.container_stop(name, timeout, opts.signal))


def run_restart(cli: Cli, opts: Options, args: list[str]) -> int:
    from wharfie.cli.batch import each_container

    timeout = _timeout(opts)
    client = cli.client
    return each_container(
        cli, args, lambda name: client.container_restart(name, timeout, opts.signal),
        parallel=False)


def _flags() -> list[Flag]:
    return [
        Flag("signal", "s", "string", "Signal to send to the container"),
        Flag("timeout", "t", "int", "Seconds to wait before killing the container"),
        Flag("time", "", "int",
             "Seconds to wait before killing the container (deprecated: use --timeout)",
             dest_name="timeout", deprecated="use --timeout instead"),
    ]


def stop_command() -> Command:
    return Command(
        use="stop [OPTIONS] CONTAINER [CONTAINER...]",
        short="Stop one or more running containers",
        aliases=f"{PROG} container stop, {PROG} stop",
        flags=_flags(),
        args=("min", 1),
        run=run_stop,
    )


def restart_command() -> Command:
    return Command(
        use="restart [OPTIONS] CONTAINER [CONTAINER...]",
        short="Restart one or more containers",
        aliases=f"{PROG} container restart, {PROG} restart",
        flags=_flags(),
        args=("min", 1),
        run=run_restart,
    )
