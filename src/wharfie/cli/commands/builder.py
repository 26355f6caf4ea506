"""``wharfie builder prune``: remove build cache (``POST /build/prune``)."""

from __future__ import annotations

from wharfie.cli.command import Cli, Command, Flag, Options

DANGLING_CACHE_WARNING = (
    "WARNING! This will remove all dangling build cache. Are you sure you want to continue?"
)
ALL_CACHE_WARNING = (
    "WARNING! This will remove all build cache. Are you sure you want to continue?"
)


def run_builder_prune(cli: Cli, opts: Options, args: list[str]) -> int:
    from wharfie.cli.commands.prune import confirm
    from wharfie.cli.formatter import human_size

    if not opts.force and not confirm(cli, ALL_CACHE_WARNING if opts.all else DANGLING_CACHE_WARNING):
        return 0  # docker: "builder prune has been cancelled" is a quiet exit 0
    report = cli.client.build_prune(
        all=opts.all, filters={k: list(v) for k, v in opts.filter.items()},
        keep_storage=opts.keep_storage,
    ) or {}
    deleted = report.get("CachesDeleted") or []
    if deleted:
        cli.out.write("Deleted build cache objects:\n" + "".join(f"{d}\n" for d in deleted) + "\n")
    cli.out.write(f"Total reclaimed space: {human_size(int(report.get('SpaceReclaimed') or 0))}\n")
    return 0


def builder_prune_command() -> Command:
    from wharfie.cli.containeropts import ram_in_bytes

    return Command(
        use="prune",
        short="Remove build cache",
        flags=[
            Flag("all", "a", "bool", "Remove all unused build cache, not just dangling ones"),
            Flag("filter", "", "filter", 'Provide filter values (e.g. "until=24h")'),
            Flag("force", "f", "bool", "Do not prompt for confirmation"),
            Flag("keep-storage", "", "value", "Amount of disk space to keep for cache",
                 convert=ram_in_bytes, metavar="bytes", default=0),
        ],
        args=("none", 0),
        run=run_builder_prune,
    )
