"""``wharfie rmi`` / ``wharfie image rm``: remove images, continuing past failures."""

from __future__ import annotations

from wharfie.cli.command import Cli, Command, Flag, Options, StatusError
from wharfie.client.errors import APIError


def run_rmi(cli: Cli, opts: Options, args: list[str]) -> int:
    from wharfie.cli.commands.save import _encode_platform

    platforms = list(dict.fromkeys(_encode_platform(p) for p in opts.platform))
    client = cli.client
    errors: list[str] = []
    fatal = False
    for name in args:
        try:
            deleted = client.image_remove(
                name, force=opts.force, noprune=opts.no_prune, platforms=platforms
            ) or []
        except APIError as e:
            if not e.is_not_found:
                fatal = True
            errors.append(str(e))
            continue
        for item in deleted:
            if item.get("Deleted"):
                cli.out.write(f"Deleted: {item['Deleted']}\n")
            else:
                cli.out.write(f"Untagged: {item.get('Untagged', '')}\n")
    if errors:
        message = "\n".join(errors)
        if not opts.force or fatal:
            raise StatusError(1, message)
        cli.err.write(message + "\n")
    return 0


def _flags() -> list[Flag]:
    return [
        Flag("force", "f", "bool", "Force removal of the image"),
        Flag("no-prune", "", "bool", "Do not delete untagged parents"),
        Flag("platform", "", "strings",
             'Remove only the given platform variant. Formatted as "os[/arch[/variant]]" '
             '(e.g., "linux/amd64")'),
    ]


def rmi_command() -> Command:
    return Command(
        use="rmi [OPTIONS] IMAGE [IMAGE...]",
        short="Remove one or more images",
        aliases="wharfie image rm, wharfie image remove, wharfie rmi",
        flags=_flags(),
        args=("min", 1),
        run=run_rmi,
    )


def image_rm_command() -> Command:
    cmd = rmi_command()
    cmd.use = "rm [OPTIONS] IMAGE [IMAGE...]"
    return cmd
