"""``wharfie logs``: ``GET /containers/{id}/logs``, demultiplexed unless the
container has a TTY (the CLI asks inspect first, like docker)."""

from __future__ import annotations

from typing import Any

from wharfie.cli.command import PROG, Cli, Command, Flag, Options


def run_logs(cli: Cli, opts: Options, args: list[str]) -> int:
    from wharfie.cli.commands.events import get_timestamp
    from wharfie.cli.hijackio import stream_output
    from wharfie.client.api import QueryValue

    client = cli.client
    info = client.container_inspect(args[0])
    params: dict[str, QueryValue] = {"stdout": "1", "stderr": "1"}
    if opts.since:
        params["since"] = _timestamp(get_timestamp, opts.since, "since")
    if opts.until:
        params["until"] = _timestamp(get_timestamp, opts.until, "until")
    if opts.timestamps:
        params["timestamps"] = "1"
    if opts.details:
        params["details"] = "1"
    if opts.follow:
        params["follow"] = "1"
    params["tail"] = opts.tail
    resp = client.container_logs(info["Id"], params)
    with resp:
        tty = bool((info.get("Config") or {}).get("Tty"))
        stream_output(resp.iter_chunks(), tty, cli.out_binary, cli.err_binary)
    return 0


def _timestamp(convert: Any, value: str, what: str) -> str:
    from wharfie.cli.command import CLIError

    try:
        return str(convert(value))
    except CLIError as e:
        raise CLIError(f'invalid value for "{what}": {e}') from None



def logs_command() -> Command:
    return Command(
        use="logs [OPTIONS] CONTAINER",
        short="Fetch the logs of a container",
        aliases=f"{PROG} container logs, {PROG} logs",
        flags=[
            Flag("follow", "f", "bool", "Follow log output"),
            Flag("since", "", "string",
                 'Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative '
                 '(e.g. "42m" for 42 minutes)'),
            Flag("until", "", "string",
                 'Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative '
                 '(e.g. "42m" for 42 minutes)'),
            Flag("timestamps", "t", "bool", "Show timestamps"),
            Flag("details", "", "bool", "Show extra details provided to logs"),
            Flag("tail", "n", "string", "Number of lines to show from the end of the logs",
                 default="all"),
        ],
        args=("exact", 1),
        run=run_logs,
    )
