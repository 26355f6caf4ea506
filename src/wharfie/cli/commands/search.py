"""``wharfie search TERM``: ``GET /images/search`` (the daemon asks the registry)."""

from __future__ import annotations

from wharfie.cli.command import Cli, Command, Flag, Options


def run_search(cli: Cli, opts: Options, args: list[str]) -> int:
    from wharfie.cli import credentials

    term = args[0]
    first = term.split("/", 1)[0] if "/" in term else ""
    domain = first if ("." in first or ":" in first or first == "localhost") else "docker.io"
    results = cli.client.image_search(term, int(opts.limit or 0), credentials.header_for(domain))
    rows = [("NAME", "DESCRIPTION", "STARS", "OFFICIAL")]
    for r in results or []:
        desc = str(r.get("description") or "").replace("\n", " ")
        if not opts.no_trunc and len(desc) > 45:
            desc = desc[:44] + "…"
        rows.append((str(r.get("name")), desc, str(r.get("star_count") or 0), "[OK]" if r.get("is_official") else ""))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        cli.out.write("   ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() + "\n")
    return 0


def search_command() -> Command:
    return Command(
        use="search [OPTIONS] TERM",
        short="Search Docker Hub for images",
        flags=[
            Flag("limit", "", "int", "Max number of search results", default=0),
            Flag("no-trunc", "", "bool", "Don't truncate output"),
        ],
        args=("exact", 1),
        run=run_search,
    )
