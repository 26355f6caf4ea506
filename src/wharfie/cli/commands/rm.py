"""``wharfie rm`` / ``container rm``: ``DELETE /containers/{id}``.

With ``-f`` a missing container is reported on stderr but is not a failure.
"""

from __future__ import annotations

from wharfie.cli.command import PROG, Cli, CLIError, Command, Flag, Options, StatusError


def run_rm(cli: Cli, opts: Options, args: list[str]) -> int:
    from wharfie.cli.batch import run_parallel
    from wharfie.client.errors import APIError

    client = cli.client

    def remove(name: str) -> None:
        name = name.strip("/")
        if not name:
            raise CLIError("container name cannot be empty")
        client.container_remove(name, force=opts.force, volumes=opts.volumes, link=opts.link)

    results = run_parallel(args, remove)
    errors = []
    for name, err in zip(args, results, strict=True):
        if err is None:
            cli.out.write(name + "\n")
        elif opts.force and isinstance(err, APIError) and err.is_not_found:
            cli.err.write(f"{err}\n")
        else:
            errors.append(str(err))
    if errors:
        raise StatusError(1, "\n".join(errors))
    return 0


def rm_command() -> Command:
    return Command(
        use="rm [OPTIONS] CONTAINER [CONTAINER...]",
        short="Remove one or more containers",
        aliases=f"{PROG} container rm, {PROG} container remove, {PROG} rm",
        flags=[
            Flag("volumes", "v", "bool", "Remove anonymous volumes associated with the container"),
            Flag("link", "l", "bool", "Remove the specified link"),
            Flag("force", "f", "bool", "Force the removal of a running container (uses SIGKILL)"),
        ],
        args=("min", 1),
        run=run_rm,
    )
