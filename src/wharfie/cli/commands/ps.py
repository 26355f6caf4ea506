"""``wharfie ps`` / ``container ls``: the container table (docker's ContainerContext)."""

from __future__ import annotations

import time
from typing import Any

from wharfie.cli import formatter
from wharfie.cli.command import FORMAT_HELP, PROG, Cli, CLIError, Command, Flag, Options
from wharfie.cli.gotemplate import GoStruct, go_method

DEFAULT_TABLE = (
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t"
    "{{.Names}}"
)
RAW_FORMAT = (
    "container_id: {{.ID}}\nimage: {{.Image}}\ncommand: {{.Command}}\n"
    "created_at: {{.CreatedAt}}\nstate: {{- pad .State 1 0}}\nstatus: {{- pad .Status 1 0}}\n"
    "names: {{.Names}}\nlabels: {{- pad .Labels 1 0}}\nports: {{- pad .Ports 1 0}}\n"
)

HEADER = {
    "ID": "CONTAINER ID",
    "Names": "NAMES",
    "Image": "IMAGE",
    "Command": "COMMAND",
    "CreatedAt": "CREATED AT",
    "RunningFor": "CREATED",
    "Ports": "PORTS",
    "State": "STATE",
    "Status": "STATUS",
    "Size": "SIZE",
    "Labels": "LABELS",
    "Mounts": "MOUNTS",
    "LocalVolumes": "LOCAL VOLUMES",
    "Networks": "NETWORKS",
    "Platform": "PLATFORM",
}


def container_format(source: str, quiet: bool, size: bool) -> str:
    """``formatter.NewContainerFormat``."""
    if source in (formatter.TABLE, ""):
        if quiet:
            return "{{.ID}}"
        return DEFAULT_TABLE + ("\t{{.Size}}" if size else "")
    if source == "raw":
        if quiet:
            return "container_id: {{.ID}}"
        return RAW_FORMAT + ("size: {{.Size}}\n" if size else "")
    if quiet:
        return "{{.ID}}"
    return source


def displayable_ports(ports: list[dict[str, Any]]) -> str:
    """``formatter.DisplayablePorts``: ``0.0.0.0:80->80/tcp, 90-91/tcp``."""

    def key(p: dict[str, Any]) -> tuple[int, str, int, str]:
        return (int(p.get("PrivatePort") or 0), str(p.get("IP") or ""),
                int(p.get("PublicPort") or 0), str(p.get("Type") or ""))

    def join_host_port(host: str, port: str) -> str:
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    groups: dict[str, list[int]] = {}
    order: list[str] = []
    result: list[str] = []
    host_mappings: list[str] = []

    def form_group(k: str, first: int, last: int) -> str:
        parts = k.split("/")
        gtype, ip = parts[0], ""
        if len(parts) > 1:
            ip, gtype = parts[0], parts[1]
        group = str(first) if first == last else f"{first}-{last}"
        if ip:
            group = f"{join_host_port(ip, group)}->{group}"
        return f"{group}/{gtype}"

    for p in sorted(ports, key=key):
        current = int(p.get("PrivatePort") or 0)
        ptype = str(p.get("Type") or "")
        pkey = ptype
        ip = str(p.get("IP") or "")
        if ip:
            public = int(p.get("PublicPort") or 0)
            if public != current:
                host_mappings.append(
                    f"{join_host_port(ip, str(public))}->{current}/{ptype}")
                continue
            pkey = f"{ip}/{ptype}"
        group = groups.get(pkey)
        if group is None:
            groups[pkey] = [current, current]
            order.append(pkey)
            continue
        if current == group[1] + 1:
            group[1] = current
            continue
        result.append(form_group(pkey, group[0], group[1]))
        groups[pkey] = [current, current]
    for pkey in order:
        first, last = groups[pkey]
        result.append(form_group(pkey, first, last))
    return ", ".join(result + host_mappings)


def _image(summary: dict[str, Any], trunc: bool) -> str:
    image = str(summary.get("Image") or "")
    if not image:
        return "<no image>"
    if trunc:
        image_id = str(summary.get("ImageID") or "")
        short = formatter.truncate_id(image_id)
        if short == formatter.truncate_id(image):
            return short
        from wharfie.cli.reference import parse_normalized_named
        from wharfie.errors import InvalidArgument

        try:
            ref = parse_normalized_named(image)
        except InvalidArgument:
            return image
        if ref.tag:
            return f"{ref.familiar_name}:{ref.tag}"
        return ref.familiar_name
    return image


def container_row(summary: dict[str, Any], trunc: bool, used: set[str] | None = None,
                  now: float | None = None) -> GoStruct:
    """The ``*formatter.ContainerContext`` a template sees for one container."""
    from wharfie.cli.gotemplate import _go_quote

    cid = str(summary.get("Id") or "")
    created = int(summary.get("Created") or 0)
    labels = summary.get("Labels") or {}

    def names() -> str:
        stripped = [n[1:] for n in summary.get("Names") or []]
        if trunc:
            for n in stripped:
                if "/" not in n:
                    return n
        return ",".join(stripped)

    def command() -> str:
        cmd = str(summary.get("Command") or "")
        return _go_quote(formatter.ellipsis(cmd, 20) if trunc else cmd)

    def size() -> str:
        if used is not None:
            used.add("Size")
        srw = formatter.human_size_with_precision(int(summary.get("SizeRw") or 0), 3)
        rootfs = int(summary.get("SizeRootFs") or 0)
        if rootfs > 0:
            return f"{srw} (virtual {formatter.human_size_with_precision(rootfs, 3)})"
        return srw

    def mounts() -> str:
        out = []
        for m in summary.get("Mounts") or []:
            name = m.get("Name") or m.get("Source") or ""
            out.append(formatter.ellipsis(name, 15) if trunc else name)
        return ",".join(out)

    def networks() -> str:
        settings = summary.get("NetworkSettings")
        if not isinstance(settings, dict):
            return ""
        return ",".join(sorted((settings.get("Networks") or {}).keys()))

    def platform() -> Any:
        desc = summary.get("ImageManifestDescriptor") or {}
        p = desc.get("platform") if isinstance(desc, dict) else None
        if not isinstance(p, dict):
            return None
        text = "/".join(x for x in (p.get("os", ""), p.get("architecture", ""),
                                    p.get("variant", "")) if x)
        return GoStruct("*formatter.Platform", {"OS": p.get("os", ""),
                                                  "Architecture": p.get("architecture", ""),
                                                  "Variant": p.get("variant", "")},
                        marshal=lambda: _platform_json(p), stringer=lambda: text)

    @go_method
    def label(name: Any = "") -> str:
        return str(labels.get(name, "")) if isinstance(labels, dict) else ""

    fields: dict[str, Any] = {
        "ID": lambda: formatter.truncate_id(cid) if trunc else cid,
        "Names": names,
        "Image": lambda: _image(summary, trunc),
        "Command": command,
        "CreatedAt": lambda: formatter.go_time_string(created),
        "RunningFor": lambda: formatter.since(created, now),
        "Platform": platform,
        "Ports": lambda: displayable_ports(list(summary.get("Ports") or [])),
        "State": str(summary.get("State") or ""),
        "Status": str(summary.get("Status") or ""),
        "Size": size,
        "Labels": lambda: ",".join(sorted(f"{k}={v}" for k, v in labels.items())),
        "Label": label,
        "Mounts": mounts,
        "LocalVolumes": lambda: str(sum(1 for m in summary.get("Mounts") or []
                                        if m.get("Driver") == "local")),
        "Networks": networks,
    }
    row: GoStruct

    def marshal() -> str:
        from wharfie.cli.gotemplate import go_json

        data = {k: row.get_field(k) for k in sorted(fields) if k != "Label"}
        return go_json(data, escape_html=True)

    row = GoStruct("*formatter.ContainerContext", fields, marshal=marshal)
    return row


def _platform_json(p: dict[str, Any]) -> str:
    from wharfie.cli.gotemplate import go_json

    out = {"architecture": p.get("architecture", ""), "os": p.get("os", "")}
    for key in ("os.version", "os.features", "variant"):
        if p.get(key):
            out[key] = p[key]
    return go_json(out, escape_html=True)


def _uses_size(fmt: str) -> bool:
    """Execute the raw ``--format`` on an empty context; did it read ``.Size``?"""
    from wharfie.cli import gotemplate

    try:
        tmpl = gotemplate.parse(fmt)
    except gotemplate.TemplateError as e:
        raise CLIError(f"failed to parse template: {e}") from None
    used: set[str] = set()
    try:
        tmpl.execute(container_row({}, True, used))
    except gotemplate.TemplateError as e:
        raise CLIError(f"failed to execute template: {e}") from None
    return "Size" in used


def run_ps(cli: Cli, opts: Options, args: list[str]) -> int:
    fmt = opts.format
    if fmt and opts.quiet:
        cli.err.write("WARNING: Ignoring custom format, because both --format and --quiet "
                      "are set.\n")
    if not fmt:
        from wharfie.cli.configfile import load_config

        fmt = str(load_config().get("psFormat") or "")
    size = bool(opts.size)
    limit = int(opts.last)
    if opts.latest and limit == -1:
        limit = 1
    if opts.format:
        uses = _uses_size(opts.format)
        if not opts.quiet and not size and "size" not in opts.changed and uses:
            size = True
    containers = cli.client.containers(all=opts.all, limit=limit, size=size,
                                       filters=opts.filter) or []
    out_fmt = container_format(fmt, opts.quiet, size)
    now = time.time()
    rows = [container_row(c, not opts.no_trunc, now=now) for c in containers]
    cli.out.write(formatter.render(out_fmt, rows, HEADER))
    return 0


def _flags() -> list[Flag]:
    return [
        Flag("quiet", "q", "bool", "Only display container IDs"),
        Flag("size", "s", "bool", "Display total file sizes"),
        Flag("all", "a", "bool", "Show all containers (default shows just running)"),
        Flag("no-trunc", "", "bool", "Don't truncate output"),
        Flag("latest", "l", "bool", "Show the latest created container (includes all states)"),
        Flag("last", "n", "int", "Show n last created containers (includes all states)",
             default=-1),
        Flag("format", "", "string", FORMAT_HELP),
        Flag("filter", "f", "filter", "Filter output based on conditions provided"),
    ]


def ps_command() -> Command:
    return Command(
        use="ps [OPTIONS]",
        short="List containers",
        aliases=f"{PROG} container ls, {PROG} container list, {PROG} container ps, {PROG} ps",
        flags=_flags(),
        args=("none", 0),
        run=run_ps,
    )


def container_ls_command() -> Command:
    cmd = ps_command()
    cmd.use = "ls [OPTIONS]"
    return cmd
