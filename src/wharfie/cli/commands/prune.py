"""``wharfie image prune``: remove dangling (or, with -a, all unused) images."""

from __future__ import annotations

from wharfie.cli.command import Cli, Command, Flag, Options

ALL_IMAGES_WARNING = (
    "WARNING! This will remove all images without at least one container associated to them.\n"
    "Are you sure you want to continue?"
)
DANGLING_WARNING = (
    "WARNING! This will remove all dangling images.\nAre you sure you want to continue?"
)


def confirm(cli: Cli, message: str) -> bool:
    """docker's ``prompt.Confirm``: ``[y/N]``, only y/Y accepts."""
    cli.out.write(message + " [y/N] ")
    cli.out.flush()
    line = cli.stdin.readline()
    return line.strip().lower() == "y"


def run_prune(cli: Cli, opts: Options, args: list[str]) -> int:
    from wharfie.cli.formatter import human_size

    filters = {k: list(v) for k, v in opts.filter.items()}
    filters.setdefault("dangling", []).append("false" if opts.all else "true")
    if not opts.force:
        if not confirm(cli, ALL_IMAGES_WARNING if opts.all else DANGLING_WARNING):
            return 0  # docker: a cancelled prune prints nothing more and exits 0
    report = cli.client.images_prune(filters) or {}
    reclaimed = 0
    deleted = report.get("ImagesDeleted") or []
    if deleted:
        lines = ["Deleted Images:"]
        for item in deleted:
            if item.get("Untagged"):
                lines.append(f"untagged: {item['Untagged']}")
            else:
                lines.append(f"deleted: {item.get('Deleted', '')}")
        cli.out.write("\n".join(lines) + "\n\n")
        reclaimed = int(report.get("SpaceReclaimed") or 0)
    cli.out.write(f"Total reclaimed space: {human_size(reclaimed)}\n")
    return 0


def image_prune_command() -> Command:
    return Command(
        use="prune [OPTIONS]",
        short="Remove unused images",
        flags=[
            Flag("force", "f", "bool", "Do not prompt for confirmation"),
            Flag("all", "a", "bool", "Remove all unused images, not just dangling ones"),
            Flag("filter", "", "filter", 'Provide filter values (e.g. "until=<timestamp>")'),
        ],
        args=("none", 0),
        run=run_prune,
    )


CONTAINERS_WARNING = (
    "WARNING! This will remove all stopped containers.\nAre you sure you want to continue?"
)


def run_container_prune(cli: Cli, opts: Options, args: list[str]) -> int:
    from wharfie.cli.formatter import human_size

    if not opts.force and not confirm(cli, CONTAINERS_WARNING):
        return 0
    report = cli.client.containers_prune({k: list(v) for k, v in opts.filter.items()}) or {}
    reclaimed = 0
    deleted = report.get("ContainersDeleted") or []
    if deleted:
        cli.out.write("Deleted Containers:\n" + "".join(f"{d}\n" for d in deleted) + "\n")
        reclaimed = int(report.get("SpaceReclaimed") or 0)
    cli.out.write(f"Total reclaimed space: {human_size(reclaimed)}\n")
    return 0


def container_prune_command() -> Command:
    return Command(
        use="prune [OPTIONS]",
        short="Remove all stopped containers",
        flags=[
            Flag("force", "f", "bool", "Do not prompt for confirmation"),
            Flag("filter", "", "filter", 'Provide filter values (e.g. "until=<timestamp>")'),
        ],
        args=("none", 0),
        run=run_container_prune,
    )


def system_prune_warning(all_images: bool, volumes: bool) -> str:
    items = ["all stopped containers", "all networks not used by at least one container"]
    if volumes:
        items.append("all anonymous volumes not used by at least one container")
    items.append("all images without at least one container associated to them" if all_images
                 else "all dangling images")
    items.append("all build cache" if all_images else "unused build cache")
    return ("WARNING! This will remove:\n" + "".join(f"  - {i}\n" for i in items)
            + "\nAre you sure you want to continue?")


def run_system_prune(cli: Cli, opts: Options, args: list[str]) -> int:
    """docker's `system prune`: each prune in turn, a section per kind that removed anything."""
    from wharfie.cli.formatter import human_size

    if not opts.force and not confirm(cli, system_prune_warning(opts.all, opts.volumes)):
        return 0
    filters = {k: list(v) for k, v in opts.filter.items()}
    reclaimed = 0
    report = cli.client.containers_prune(filters) or {}
    _section(cli, "Deleted Containers:", report.get("ContainersDeleted"))
    reclaimed += int(report.get("SpaceReclaimed") or 0)
    nets = cli.client.request("POST", "/networks/prune").json() or {}
    _section(cli, "Deleted Networks:", nets.get("NetworksDeleted"))
    if opts.volumes:
        vols = cli.client.volumes_prune(filters) or {}
        _section(cli, "Deleted Volumes:", vols.get("VolumesDeleted"))
        reclaimed += int(vols.get("SpaceReclaimed") or 0)
    images = cli.client.images_prune({**filters, "dangling": ["false" if opts.all else "true"]}) or {}
    _section(cli, "Deleted Images:", [f"untagged: {i['Untagged']}" if i.get("Untagged") else f"deleted: {i.get('Deleted', '')}"
                                      for i in images.get("ImagesDeleted") or []])
    reclaimed += int(images.get("SpaceReclaimed") or 0)
    cache = cli.client.build_prune(opts.all, filters) or {}
    _section(cli, "Deleted build cache objects:", cache.get("CachesDeleted"))
    reclaimed += int(cache.get("SpaceReclaimed") or 0)
    cli.out.write(f"Total reclaimed space: {human_size(reclaimed)}\n")
    return 0


def _section(cli: Cli, title: str, items: list[str] | None) -> None:
    if items:
        cli.out.write(title + "\n" + "".join(f"{i}\n" for i in items) + "\n")


def system_prune_command() -> Command:
    return Command(
        use="prune [OPTIONS]",
        short="Remove unused data",
        flags=[
            Flag("all", "a", "bool", "Remove all unused images not just dangling ones"),
            Flag("filter", "", "filter", 'Provide filter values (e.g. "label=<key>=<value>")'),
            Flag("force", "f", "bool", "Do not prompt for confirmation"),
            Flag("volumes", "", "bool", "Prune anonymous volumes"),
        ],
        args=("none", 0),
        run=run_system_prune,
    )
