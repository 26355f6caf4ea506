"""``wharfie load`` / ``wharfie image load``: upload an image archive (chunked)."""

from __future__ import annotations

from typing import IO

from wharfie.cli.command import Cli, CLIError, Command, Flag, Options


def go_open_error(path: str, e: OSError) -> CLIError:
    """``open PATH: no such file or directory`` (Go's *PathError text)."""
    reason = (e.strerror or str(e)).strip()
    reason = reason[:1].lower() + reason[1:]
    return CLIError(f"open {path}: {reason}")


def run_load(cli: Cli, opts: Options, args: list[str]) -> int:
    from wharfie.cli.progress import display_stream

    source: IO[bytes]
    if opts.input:
        try:
            source = open(opts.input, "rb")  # noqa: SIM115 - closed below
        except OSError as e:
            raise go_open_error(opts.input, e) from None
    else:
        if cli.in_is_terminal():
            raise CLIError("requested load from stdin, but stdin is empty")
        source = cli.in_binary
    try:
        quiet = opts.quiet or not cli.out_is_terminal()
        from wharfie.cli.commands.save import _encode_platform

        platforms = [_encode_platform(opts.platform)] if opts.platform else []
        resp = cli.client.image_load(source, quiet=quiet, platforms=platforms)
        with resp:
            if resp.headers.get("Content-Type") == "application/json":
                display_stream(resp.iter_json(), cli.out, cli.out_is_terminal())
            else:
                sink = cli.out_binary
                for chunk in resp.iter_chunks():
                    sink.write(chunk)
                sink.flush()
    finally:
        if opts.input:
            source.close()
    return 0


def load_command() -> Command:
    return Command(
        use="load [OPTIONS]",
        short="Load an image from a tar archive or STDIN",
        aliases="wharfie image load, wharfie load",
        flags=[
            Flag("input", "i", "string", "Read from tar archive file, instead of STDIN"),
            Flag("quiet", "q", "bool", "Suppress the load output"),
            Flag("platform", "", "string",
                 'Load only the given platform variant. Formatted as "os[/arch[/variant]]" '
                 '(e.g., "linux/amd64")'),
        ],
        args=("none", 0),
        run=run_load,
    )


def image_load_command() -> Command:
    return load_command()
