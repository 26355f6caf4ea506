"""``wharfie history`` / ``wharfie image history``."""

from __future__ import annotations

import time
from typing import Any

from wharfie.cli import formatter
from wharfie.cli.command import FORMAT_HELP, Cli, Command, Flag, Options
from wharfie.cli.gotemplate import GoStruct, go_json

DEFAULT_TABLE = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
NON_HUMAN_TABLE = "table {{.ID}}\t{{.CreatedAt}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
HEADER = {
    "ID": "IMAGE",
    "CreatedSince": "CREATED",
    "CreatedAt": "CREATED AT",
    "CreatedBy": "CREATED BY",
    "Size": "SIZE",
    "Comment": "COMMENT",
}
#: 2000-01-01T00:00:00Z: older creation dates are shown as N/A
EPOCH = 946684800


def history_format(source: str, quiet: bool, human: bool) -> str:
    if source == formatter.TABLE:
        if quiet:
            return "{{.ID}}"
        return DEFAULT_TABLE if human else NON_HUMAN_TABLE
    return source


def history_row(item: dict[str, Any], trunc: bool, human: bool) -> GoStruct:
    """The ``*image.historyContext`` a template sees."""
    item_id = str(item.get("Id", ""))
    created = int(item.get("Created") or 0)
    size = int(item.get("Size") or 0)
    created_by = str(item.get("CreatedBy") or "").replace("\t", " ")

    def created_since() -> str:
        if not human:
            return formatter.rfc3339(created)
        if created <= EPOCH:
            return "N/A"
        return formatter.human_duration(time.time() - created) + " ago"

    fields: dict[str, Any] = {
        "Comment": str(item.get("Comment") or ""),
        "CreatedAt": lambda: formatter.rfc3339(created),
        "CreatedBy": lambda: formatter.ellipsis(created_by, 45) if trunc else created_by,
        "CreatedSince": created_since,
        "ID": lambda: formatter.truncate_id(item_id) if trunc else item_id,
        "Size": lambda: (
            formatter.human_size_with_precision(size, 3) if human else str(size)
        ),
    }
    row: GoStruct

    def marshal() -> str:
        return go_json({k: row.get_field(k) for k in sorted(fields)}, escape_html=True)

    row = GoStruct("*image.historyContext", fields, marshal=marshal)
    return row


def run_history(cli: Cli, opts: Options, args: list[str]) -> int:
    from wharfie.cli.commands.save import _encode_platform

    platform = _encode_platform(opts.platform) if opts.platform else None
    history = cli.client.image_history(args[0], platform) or []
    fmt = history_format(opts.format or formatter.TABLE, opts.quiet, opts.human)
    rows = [history_row(h, not opts.no_trunc, opts.human) for h in history]
    cli.out.write(formatter.render(fmt, rows, HEADER))
    return 0


def history_command() -> Command:
    return Command(
        use="history [OPTIONS] IMAGE",
        short="Show the history of an image",
        aliases="wharfie image history, wharfie history",
        flags=[
            Flag("human", "H", "bool", "Print sizes and dates in human readable format",
                 default=True),
            Flag("quiet", "q", "bool", "Only show image IDs"),
            Flag("no-trunc", "", "bool", "Don't truncate output"),
            Flag("format", "", "string", FORMAT_HELP),
            Flag("platform", "", "string",
                 'Show history for the given platform. Formatted as "os[/arch[/variant]]" '
                 '(e.g., "linux/amd64")'),
        ],
        args=("exact", 1),
        run=run_history,
    )


def image_history_command() -> Command:
    return history_command()
