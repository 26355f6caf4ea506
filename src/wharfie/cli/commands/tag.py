"""``wharfie tag SOURCE TARGET`` / ``wharfie image tag``."""

from __future__ import annotations

from wharfie.cli.command import Cli, CLIError, Command, Options
from wharfie.errors import InvalidArgument


def run_tag(cli: Cli, opts: Options, args: list[str]) -> int:
    from wharfie.cli.reference import parse_any_reference, parse_normalized_named

    source, target = args
    try:
        parse_any_reference(source)
    except InvalidArgument as e:
        raise CLIError(
            f'Error parsing reference: "{source}" is not a valid repository/tag: {e}'
        ) from None
    try:
        ref = parse_normalized_named(target)
    except InvalidArgument as e:
        raise CLIError(
            f'Error parsing reference: "{target}" is not a valid repository/tag: {e}'
        ) from None
    if ref.digest:
        raise CLIError("refusing to create a tag with a digest reference")
    # Like the docker client: the normalized name (docker.io/library/x) and the tag.
    cli.client.image_tag(source, ref.name, ref.tag or "latest")
    return 0


def tag_command() -> Command:
    return Command(
        use="tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
        short="Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
        aliases="wharfie image tag, wharfie tag",
        args=("exact", 2),
        interspersed=False,
        run=run_tag,
    )


def image_tag_command() -> Command:
    return tag_command()
