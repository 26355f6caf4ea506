"""``wharfie import`` / ``wharfie image import``: a filesystem tarball → an image."""

from __future__ import annotations

from typing import IO

from wharfie.cli.command import Cli, CLIError, Command, Flag, Options
from wharfie.errors import InvalidArgument


def run_import(cli: Cli, opts: Options, args: list[str]) -> int:
    from wharfie.cli.commands.load import go_open_error
    from wharfie.cli.progress import display_stream
    from wharfie.cli.reference import parse_normalized_named

    src = args[0]
    ref = args[1] if len(args) > 1 else ""
    source: IO[bytes] | None
    opened = False
    if src == "-":
        source, source_name = cli.in_binary, "-"
    elif src.startswith(("https://", "http://")):
        source, source_name = None, src
    else:
        try:
            source = open(src, "rb")  # noqa: SIM115 - closed below
        except OSError as e:
            raise go_open_error(src, e) from None
        source_name, opened = "-", True
    try:
        if ref:
            try:
                parse_normalized_named(ref)
            except InvalidArgument as e:
                raise CLIError(str(e)) from None
        resp = cli.client.image_import(
            source, source_name, ref, message=opts.message, changes=opts.change,
            platform=opts.platform,
        )
        with resp:
            display_stream(resp.iter_json(), cli.out, cli.out_is_terminal())
    finally:
        if opened and source is not None:
            source.close()
    return 0


def import_command() -> Command:
    return Command(
        use="import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]",
        short="Import the contents from a tarball to create a filesystem image",
        aliases="wharfie image import, wharfie import",
        flags=[
            Flag("change", "c", "list", "Apply Dockerfile instruction to the created image"),
            Flag("message", "m", "string", "Set commit message for imported image"),
            Flag("platform", "", "string", "Set platform if server is multi-platform capable"),
        ],
        args=("min", 1),
        run=run_import,
    )


def image_import_command() -> Command:
    return import_command()
