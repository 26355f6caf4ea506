"""``wharfie pull`` / ``wharfie image pull``: ``POST /images/create?fromImage=…&tag=…``."""

from __future__ import annotations

import io

from wharfie.cli.command import Cli, CLIError, Command, Flag, Options
from wharfie.errors import InvalidArgument


def run_pull(cli: Cli, opts: Options, args: list[str]) -> int:
    from wharfie.cli import credentials
    from wharfie.cli.progress import display_stream
    from wharfie.cli.reference import parse_normalized_named

    try:
        ref = parse_normalized_named(args[0])
    except InvalidArgument as e:
        raise CLIError(str(e)) from None
    if opts.all_tags and (ref.tag or ref.digest):
        raise CLIError("tag can't be used with --all-tags/-a")
    if not opts.all_tags and not ref.tag and not ref.digest:
        ref.tag = "latest"
        if not opts.quiet:
            cli.out.write("Using default tag: latest\n")
    tag = ref.digest or ref.tag
    auth = credentials.header_for(ref.domain)
    resp = cli.client.image_create(ref.name, tag, platform=opts.platform or "", registry_auth=auth)
    with resp:
        if opts.quiet:
            display_stream(resp.iter_json(), io.StringIO())
        else:
            display_stream(resp.iter_json(), cli.out, cli.out_is_terminal())
    cli.out.write(f"{ref}\n")
    return 0


def pull_command() -> Command:
    return Command(
        use="pull [OPTIONS] NAME[:TAG|@DIGEST]",
        short="Download an image from a registry",
        aliases="wharfie image pull, wharfie pull",
        flags=[
            Flag("all-tags", "a", "bool", "Download all tagged images in the repository"),
            Flag("disable-content-trust", "", "bool", "Skip image verification", default=True),
            Flag("platform", "", "string", "Set platform if server is multi-platform capable"),
            Flag("quiet", "q", "bool", "Suppress verbose output"),
        ],
        args=("exact", 1),
        run=run_pull,
    )


def image_pull_command() -> Command:
    return pull_command()
