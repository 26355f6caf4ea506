"""``wharfie top``: the container's processes, as the daemon's ``ps`` reports them."""

from __future__ import annotations

from wharfie.cli.command import PROG, Cli, Command, Options


def run_top(cli: Cli, opts: Options, args: list[str]) -> int:
    from wharfie.cli.tabwriter import tabwrite

    procs = cli.client.container_top(args[0], args[1:]) or {}
    lines = ["\t".join(procs.get("Titles") or [])]
    lines += ["\t".join(p) for p in procs.get("Processes") or []]
    cli.out.write(tabwrite("\n".join(lines) + "\n", minwidth=20))
    return 0


def top_command() -> Command:
    return Command(
        use="top CONTAINER [ps OPTIONS]",
        short="Display the running processes of a container",
        aliases=f"{PROG} container top, {PROG} top",
        args=("min", 1),
        interspersed=False,
        run=run_top,
    )
