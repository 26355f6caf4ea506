"""``wharfie push`` / ``wharfie image push``: ``POST /images/{name}/push?tag=…``."""

from __future__ import annotations

import io

from wharfie.cli.command import Cli, CLIError, Command, Flag, Options
from wharfie.errors import InvalidArgument


def run_push(cli: Cli, opts: Options, args: list[str]) -> int:
    from wharfie.cli import credentials
    from wharfie.cli.progress import display_stream
    from wharfie.cli.reference import parse_normalized_named

    try:
        ref = parse_normalized_named(args[0])
    except InvalidArgument as e:
        raise CLIError(str(e)) from None
    if ref.digest:
        raise CLIError("cannot push a digest reference")
    if opts.all_tags and ref.tag:
        raise CLIError("tag can't be used with --all-tags/-a")
    if not opts.all_tags and not ref.tag:
        ref.tag = "latest"
        if not opts.quiet:
            cli.out.write("Using default tag: latest\n")
    auth = credentials.header_for(ref.domain)
    resp = cli.client.image_push(ref.name, ref.tag, registry_auth=auth)
    with resp:
        if opts.quiet:
            display_stream(resp.iter_json(), io.StringIO())
            cli.out.write(f"{ref}\n")
        else:
            display_stream(resp.iter_json(), cli.out, cli.out_is_terminal())
    return 0


def push_command() -> Command:
    return Command(
        use="push [OPTIONS] NAME[:TAG]",
        short="Upload an image to a registry",
        aliases="wharfie image push, wharfie push",
        flags=[
            Flag("all-tags", "a", "bool", "Push all tags of an image to the repository"),
            Flag("disable-content-trust", "", "bool", "Skip image signing", default=True),
            Flag("quiet", "q", "bool", "Suppress verbose output"),
        ],
        args=("exact", 1),
        run=run_push,
    )


def image_push_command() -> Command:
    return push_command()
