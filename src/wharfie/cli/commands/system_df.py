"""``wharfie system df``: disk usage by images, containers, local volumes and build cache,
computed like the docker CLI's formatter from ``GET /system/df``."""

from __future__ import annotations

from typing import Any

from wharfie.cli.command import Cli, Command, Options

ACTIVE_STATES = ("running", "paused", "restarting")


def _reclaimable(reclaimable: int, total: int) -> str:
    from wharfie.cli.formatter import human_size

    return f"{human_size(reclaimable)} ({reclaimable * 100 // total}%)" if total > 0 else human_size(reclaimable)


def rows(du: dict[str, Any]) -> list[tuple[str, int, int, int, str]]:
    """(type, total, active, size, reclaimable text) per line of the table."""
    images = du.get("Images") or []
    total = int(du.get("LayersSize") or 0)
    used = sum(i["Size"] - i["SharedSize"] for i in images
               if i.get("Containers") and i.get("Size", -1) != -1 and i.get("SharedSize", -1) != -1)
    out = [("Images", len(images), sum(1 for i in images if i.get("Containers")), total,
            _reclaimable(total - used, total))]
    containers = du.get("Containers") or []
    c_size = sum(int(c.get("SizeRw") or 0) for c in containers)
    c_free = sum(int(c.get("SizeRw") or 0) for c in containers if c.get("State") not in ACTIVE_STATES)
    out.append(("Containers", len(containers), sum(1 for c in containers if c.get("State") in ACTIVE_STATES),
                c_size, _reclaimable(c_free, c_size)))
    volumes = du.get("Volumes") or []
    usage = [v.get("UsageData") or {"Size": -1, "RefCount": -1} for v in volumes]
    v_size = sum(u["Size"] for u in usage if u["Size"] != -1)
    v_free = sum(u["Size"] for u in usage if u["Size"] != -1 and u["RefCount"] == 0)
    out.append(("Local Volumes", len(volumes), sum(1 for u in usage if u["RefCount"] > 0), v_size,
                _reclaimable(v_free, v_size)))
    cache = du.get("BuildCache") or []
    b_size = sum(int(b.get("Size") or 0) for b in cache if not b.get("Shared"))
    b_free = sum(int(b.get("Size") or 0) for b in cache if not b.get("Shared") and not b.get("InUse"))
    out.append(("Build Cache", len(cache), sum(1 for b in cache if b.get("InUse")), b_size, _reclaimable(b_free, b_size)))
    return out


def run_df(cli: Cli, opts: Options, args: list[str]) -> int:
    from wharfie.cli.formatter import human_size
    from wharfie.cli.tabwriter import tabwrite

    lines = ["TYPE\tTOTAL\tACTIVE\tSIZE\tRECLAIMABLE"]
    for kind, total, active, size, free in rows(cli.client.get_json("/system/df") or {}):
        lines.append(f"{kind}\t{total}\t{active}\t{human_size(size)}\t{free}")
    cli.out.write(tabwrite("\n".join(lines) + "\n", minwidth=10))
    return 0


def df_command() -> Command:
    return Command(
        use="df [OPTIONS]",
        short="Show wharfie disk usage",
        aliases="wharfie system df",
        args=("none", 0),
        run=run_df,
    )
