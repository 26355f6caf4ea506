"""``wharfie wait``: block until each container stops; print the exit codes."""

from __future__ import annotations

from wharfie.cli.command import PROG, Cli, Command, Options, StatusError


def wait_status(cli: Cli, name: str, condition: str = "") -> int:
    """``ContainerWait``: the ``StatusCode`` (an in-body ``Error`` is not fatal here)."""
    import json

    from wharfie.errors import WharfieError

    resp = cli.client.container_wait(name, condition)
    raw = resp.read()
    try:
        result = json.loads(raw)
    except ValueError:
        raise WharfieError(raw.decode(errors="replace")) from None
    return int(result.get("StatusCode", 0)) if isinstance(result, dict) else 0


def run_wait(cli: Cli, opts: Options, args: list[str]) -> int:
    from wharfie.errors import WharfieError

    errors = []
    for name in args:
        try:
            status = wait_status(cli, name)
        except WharfieError as e:
            errors.append(str(e))
            continue
        cli.out.write(f"{status}\n")
        cli.out.flush()
    if errors:
        raise StatusError(1, "\n".join(errors))
    return 0


def wait_command() -> Command:
    return Command(
        use="wait CONTAINER [CONTAINER...]",
        short="Block until one or more containers stop, then print their exit codes",
        aliases=f"{PROG} container wait, {PROG} wait",
        args=("min", 1),
        run=run_wait,
    )
