"""``wharfie commit`` / ``wharfie container commit``: a new image from a container's
changes (``POST /commit``); prints the new image's ID."""

from __future__ import annotations

from wharfie.cli.command import Cli, CLIError, Command, Flag, Options


def run_commit(cli: Cli, opts: Options, args: list[str]) -> int:
    from wharfie.cli.reference import parse_normalized_named
    from wharfie.errors import InvalidArgument

    container = args[0]
    repo = tag = ""
    if len(args) > 1 and args[1]:
        # Like the docker client: the normalized name and the tag ("latest" if none).
        try:
            ref = parse_normalized_named(args[1])
        except InvalidArgument as e:
            raise CLIError(str(e)) from None
        if ref.digest:
            raise CLIError("refusing to create a tag with a digest reference")
        repo, tag = ref.name, ref.tag or "latest"
    response = cli.client.container_commit(
        container, repo=repo, tag=tag, comment=opts.message, author=opts.author,
        changes=opts.change, pause=opts.pause,
    ) or {}
    cli.out.write(f"{response.get('Id', '')}\n")
    return 0


def commit_command() -> Command:
    return Command(
        use="commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
        short="Create a new image from a container's changes",
        aliases="wharfie container commit, wharfie commit",
        flags=[
            Flag("author", "a", "string",
                 'Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")'),
            Flag("change", "c", "list", "Apply Dockerfile instruction to the created image"),
            Flag("message", "m", "string", "Commit message"),
            Flag("pause", "p", "bool", "Pause container during commit", default=True),
        ],
        args=("range", 2),
        interspersed=False,
        run=run_commit,
    )
