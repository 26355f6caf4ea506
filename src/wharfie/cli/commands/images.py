"""``wharfie images`` / ``wharfie image ls``: the legacy (non-tree) image table."""

from __future__ import annotations

from typing import Any

from wharfie.cli import formatter
from wharfie.cli.command import FORMAT_HELP, PROG, Cli, CLIError, Command, Flag, Options
from wharfie.cli.gotemplate import GoStruct

DEFAULT_TABLE = (
    "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t"
    "{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}"
)
DEFAULT_TABLE_DIGEST = (
    "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t"
    "{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}"
)
RAW_FORMAT = (
    "repository: {{ .Repository }}\ntag: {{.Tag}}\nimage_id: {{.ID}}\n"
    "created_at: {{.CreatedAt}}\nvirtual_size: {{.Size}}\n"
)
RAW_FORMAT_DIGEST = (
    "repository: {{ .Repository }}\ntag: {{.Tag}}\ndigest: {{.Digest}}\nimage_id: {{.ID}}\n"
    "created_at: {{.CreatedAt}}\nvirtual_size: {{.Size}}\n"
)

HEADER = {
    "ID": "IMAGE ID",
    "Repository": "REPOSITORY",
    "Tag": "TAG",
    "Digest": "DIGEST",
    "CreatedSince": "CREATED",
    "CreatedAt": "CREATED AT",
    "Size": "SIZE",
    "Containers": "CONTAINERS",
    "VirtualSize": "SIZE",
    "SharedSize": "SHARED SIZE",
    "UniqueSize": "UNIQUE SIZE",
}

#: docker image subcommands, for the "did you mean" hint of `images ls`
_SUBCOMMANDS = {"build", "history", "import", "inspect", "list", "load", "ls", "prune",
                "pull", "push", "rm", "save", "tag"}


def image_format(source: str, quiet: bool, digest: bool) -> str:
    """``formatter.NewImageFormat``."""
    if source == formatter.TABLE:
        if quiet:
            return "{{.ID}}"
        return DEFAULT_TABLE_DIGEST if digest else DEFAULT_TABLE
    if source == "raw":
        if quiet:
            return "image_id: {{.ID}}"
        return RAW_FORMAT_DIGEST if digest else RAW_FORMAT
    if formatter.is_table(source) and digest and "{{.Digest}}" not in source:
        source += "\t{{.Digest}}"
    return source


def _int(summary: dict[str, Any], key: str, default: int = 0) -> int:
    v = summary.get(key, default)
    return v if isinstance(v, int) else default


def image_row(summary: dict[str, Any], repo: str, tag: str, digest: str, trunc: bool) -> GoStruct:
    """The ``*formatter.imageContext`` a template sees for one table row."""
    image_id = str(summary.get("Id", ""))
    created = _int(summary, "Created")
    size = _int(summary, "Size")
    # A field the daemon leaves out is Go's zero value (0), not "unknown" (-1).
    shared = _int(summary, "SharedSize")
    containers = _int(summary, "Containers")

    fields: dict[str, Any] = {
        "Containers": lambda: "N/A" if containers == -1 else str(containers),
        "CreatedAt": lambda: formatter.go_time_string(created),
        "CreatedSince": lambda: formatter.since(created),
        "Digest": digest,
        "ID": lambda: formatter.truncate_id(image_id) if trunc else image_id,
        "Repository": repo,
        "SharedSize": lambda: "N/A" if shared == -1 else formatter.human_size(shared),
        "Size": lambda: formatter.human_size_with_precision(size, 3),
        "Tag": tag,
        "UniqueSize": lambda: (
            "N/A" if size == -1 or shared == -1 else formatter.human_size(size - shared)
        ),
        "VirtualSize": lambda: formatter.human_size(size),
    }
    row: GoStruct

    def marshal() -> str:
        from wharfie.cli.gotemplate import go_json

        # formatter.MarshalJSON: json.Marshal of a map → sorted keys, HTML escaped.
        return go_json({k: row.get_field(k) for k in sorted(fields)}, escape_html=True)

    row = GoStruct("*formatter.imageContext", fields, marshal=marshal)
    return row


def _is_dangling(summary: dict[str, Any]) -> bool:
    tags = summary.get("RepoTags") or []
    digests = summary.get("RepoDigests") or []
    if not tags and not digests:
        return True
    return tags == ["<none>:<none>"] and digests == ["<none>@<none>"]


def image_rows(
    images: list[dict[str, Any]], trunc: bool, show_digests: bool, need_digest: bool
) -> list[GoStruct]:
    """``formatter.imageFormat``: one row per (repository, tag[, digest])."""
    from wharfie.cli.reference import parse_normalized_named
    from wharfie.errors import InvalidArgument

    rows: list[GoStruct] = []
    for img in images:
        if _is_dangling(img):
            rows.append(image_row(img, "<none>", "<none>", "<none>", trunc))
            continue
        repo_tags: dict[str, list[str]] = {}
        repo_digests: dict[str, list[str]] = {}
        for ref_s in img.get("RepoTags") or []:
            try:
                ref = parse_normalized_named(ref_s)
            except InvalidArgument:
                continue
            if ref.tag:
                repo_tags.setdefault(ref.familiar_name, []).append(ref.tag)
        for ref_s in img.get("RepoDigests") or []:
            try:
                ref = parse_normalized_named(ref_s)
            except InvalidArgument:
                continue
            if ref.digest:
                repo_digests.setdefault(ref.familiar_name, []).append(ref.digest)
        for repo, tags in repo_tags.items():
            digests = repo_digests.pop(repo, [])
            if not need_digest:
                digests = []
            for tag in tags:
                if not digests:
                    rows.append(image_row(img, repo, tag, "<none>", trunc))
                    continue
                for d in digests:
                    rows.append(image_row(img, repo, tag, d, trunc))
        for repo, digests in repo_digests.items():
            if show_digests:
                for d in digests:
                    rows.append(image_row(img, repo, "<none>", d, trunc))
            else:
                rows.append(image_row(img, repo, "<none>", "", trunc))
    return rows


def run_images(cli: Cli, opts: Options, args: list[str], called_as: str) -> int:
    filters: dict[str, list[str]] = {k: list(v) for k, v in opts.filter.items()}
    match_name = args[0] if args else ""
    if match_name:
        filters.setdefault("reference", []).append(match_name)
    if opts.tree:
        raise CLIError("--tree is not supported")
    images = cli.client.images(all=opts.all, filters=filters) or []
    fmt = opts.format or formatter.TABLE
    fmt = image_format(fmt, opts.quiet, opts.digests)
    need_digest = opts.digests or "{{.Digest}}" in fmt
    rows = image_rows(images, not opts.no_trunc, opts.digests, need_digest)
    cli.out.write(formatter.render(fmt, rows, HEADER))
    if match_name and not images and called_as == "images" and match_name in _SUBCOMMANDS:
        cli.err.write(
            f'\nNo images found matching "{match_name}": did you mean "{PROG} image {match_name}"?\n'
        )
    return 0


def _flags() -> list[Flag]:
    return [
        Flag("quiet", "q", "bool", "Only show image IDs"),
        Flag("all", "a", "bool", "Show all images (default hides intermediate images)"),
        Flag("no-trunc", "", "bool", "Don't truncate output"),
        Flag("digests", "", "bool", "Show digests"),
        Flag("format", "", "string", FORMAT_HELP),
        Flag("filter", "f", "filter", "Filter output based on conditions provided"),
        Flag("tree", "", "bool", "List multi-platform images as a tree (EXPERIMENTAL)",
             hidden=True),
    ]


def images_command() -> Command:
    return Command(
        use="images [OPTIONS] [REPOSITORY[:TAG]]",
        short="List images",
        aliases=f"{PROG} image ls, {PROG} image list, {PROG} images",
        flags=_flags(),
        args=("max", 1),
        run=lambda cli, opts, args: run_images(cli, opts, args, "images"),
    )


def image_ls_command() -> Command:
    cmd = images_command()
    cmd.use = "ls [OPTIONS] [REPOSITORY[:TAG]]"
    cmd.run = lambda cli, opts, args: run_images(cli, opts, args, "ls")
    return cmd


__all__ = ["images_command", "image_ls_command", "image_rows"]
