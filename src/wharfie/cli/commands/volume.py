"""``wharfie volume create|ls|rm|prune`` (``inspect`` lives with the other inspects)."""

from __future__ import annotations

from typing import Any

from wharfie.cli import formatter
from wharfie.cli.command import (
    FORMAT_HELP,
    PROG,
    Cli,
    CLIError,
    Command,
    Flag,
    Options,
    StatusError,
)
from wharfie.cli.gotemplate import GoStruct, go_method

DEFAULT_TABLE = "table {{.Driver}}\t{{.Name}}"
HEADER = {
    "ID": "ID",
    "Name": "VOLUME NAME",
    "Group": "GROUP",
    "Driver": "DRIVER",
    "Scope": "SCOPE",
    "Availability": "AVAILABILITY",
    "Mountpoint": "MOUNTPOINT",
    "Labels": "LABELS",
    "Links": "LINKS",
    "Size": "SIZE",
    "Status": "STATUS",
}


def volume_format(source: str, quiet: bool) -> str:
    """``formatter.NewVolumeFormat``."""
    if source == formatter.TABLE:
        return "{{.Name}}" if quiet else DEFAULT_TABLE
    if source == "raw":
        return "name: {{.Name}}" if quiet else "name: {{.Name}}\\ndriver: {{.Driver}}\\n"
    return source


def volume_row(vol: dict[str, Any]) -> GoStruct:
    """The ``*formatter.volumeContext`` a template sees for one volume."""
    labels = vol.get("Labels") or {}
    usage = vol.get("UsageData")
    cluster = vol.get("ClusterVolume")

    @go_method
    def label(name: Any = "") -> str:
        return str(labels.get(name, ""))

    def cluster_field(key: str) -> str:
        if not isinstance(cluster, dict):
            return "N/A"
        return str((cluster.get("Spec") or {}).get(key, ""))

    def status() -> str:
        if not isinstance(cluster, dict):
            return "N/A"
        info = cluster.get("Info") or {}
        if not info.get("VolumeID"):
            return "pending creation"
        n = len(cluster.get("PublishStatus") or [])
        return {0: "created", 1: "in use (1 node)"}.get(n, f"in use ({n} nodes)")

    fields: dict[str, Any] = {
        "Name": str(vol.get("Name") or ""),
        "Driver": str(vol.get("Driver") or ""),
        "Scope": str(vol.get("Scope") or ""),
        "Mountpoint": str(vol.get("Mountpoint") or ""),
        "Labels": lambda: ",".join(f"{k}={v}" for k, v in sorted(labels.items())),
        "Label": label,
        "Links": lambda: str(usage.get("RefCount", 0)) if isinstance(usage, dict) else "N/A",
        "Size": lambda: (formatter.human_size(int(usage.get("Size") or 0))
                         if isinstance(usage, dict) else "N/A"),
        "Group": lambda: cluster_field("Group"),
        "Availability": lambda: cluster_field("Availability"),
        "Status": status,
    }
    row: GoStruct

    def marshal() -> str:
        from wharfie.cli.gotemplate import go_json

        return go_json({k: row.get_field(k) for k in sorted(fields) if k != "Label"},
                       escape_html=True)

    row = GoStruct("*formatter.volumeContext", fields, marshal=marshal)
    return row


def run_ls(cli: Cli, opts: Options, args: list[str]) -> int:
    from wharfie.cli.commands.port import natural_key

    resp = cli.client.volumes(opts.filter) or {}
    volumes = list(resp.get("Volumes") or [])
    fmt = opts.format
    if opts.cluster:
        volumes = [v for v in volumes if v.get("ClusterVolume")]
        fmt = formatter.TABLE if opts.quiet else (
            "table {{.Name}}\t{{.Group}}\t{{.Driver}}\t{{.Availability}}\t{{.Status}}")
    elif not fmt:
        from wharfie.cli.configfile import load_config

        configured = str(load_config().get("volumesFormat") or "")
        fmt = configured if configured and not opts.quiet else formatter.TABLE
    volumes.sort(key=lambda v: natural_key(str(v.get("Name") or "")))
    cli.out.write(formatter.render(volume_format(fmt, opts.quiet),
                                   [volume_row(v) for v in volumes], HEADER))
    return 0


def run_create(cli: Cli, opts: Options, args: list[str]) -> int:
    name = opts.name
    if args:
        if name:
            raise CLIError("conflicting options: cannot specify a volume-name through both "
                           "--name and as a positional arg")
        name = args[0]
    from wharfie.cli.containeropts import kv_map

    body: dict[str, Any] = {
        "Driver": opts.driver,
        "DriverOpts": kv_map(list(opts.opt)),
        "Labels": kv_map(list(opts.label)),
        "Name": name,
    }
    cluster = any(f in opts.changed for f in ("group", "scope", "sharing", "availability",
                                              "type", "secrets", "limit-bytes",
                                              "required-bytes"))
    if cluster:
        body["ClusterVolumeSpec"] = {
            "Group": opts.group,
            "AccessMode": {"Scope": opts.scope, "Sharing": opts.sharing,
                           **({"MountVolume": {}} if opts.type == "mount" else
                              {"BlockVolume": {}} if opts.type == "block" else {})},
            "Availability": opts.availability,
        }
    vol = cli.client.volume_create(body) or {}
    cli.out.write(f"{vol.get('Name', '')}\n")
    return 0


def run_rm(cli: Cli, opts: Options, args: list[str]) -> int:
    from wharfie.errors import WharfieError

    errors = []
    for name in args:
        try:
            cli.client.volume_remove(name, opts.force)
        except WharfieError as e:
            errors.append(str(e))
            continue
        cli.out.write(name + "\n")
    if errors:
        raise StatusError(1, "\n".join(errors))
    return 0


ANONYMOUS_WARNING = (
    "WARNING! This will remove anonymous local volumes not used by at least one container.\n"
    "Are you sure you want to continue?"
)
ALL_WARNING = (
    "WARNING! This will remove all local volumes not used by at least one container.\n"
    "Are you sure you want to continue?"
)


def run_prune(cli: Cli, opts: Options, args: list[str]) -> int:
    from wharfie.cli.commands.prune import confirm
    from wharfie.cli.formatter import human_size
    from wharfie.client.api import version_less

    filters = {k: list(v) for k, v in opts.filter.items()}
    warning = ANONYMOUS_WARNING
    client = cli.client
    client.negotiate()
    if not version_less(client.version, "1.42"):
        if opts.all:
            if "all" in filters:
                raise CLIError("conflicting options: cannot specify both --all and --filter all=1")
            filters["all"] = ["true"]
            warning = ALL_WARNING
    else:
        warning = ALL_WARNING
    if not opts.force and not confirm(cli, warning):
        return 0
    report = client.volumes_prune(filters) or {}
    reclaimed = 0
    deleted = report.get("VolumesDeleted") or []
    if deleted:
        cli.out.write("Deleted Volumes:\n" + "".join(f"{d}\n" for d in deleted) + "\n")
        reclaimed = int(report.get("SpaceReclaimed") or 0)
    cli.out.write(f"Total reclaimed space: {human_size(reclaimed)}\n")
    return 0


def volume_create_command() -> Command:
    from wharfie.cli.containeropts import validate_label

    return Command(
        use="create [OPTIONS] [VOLUME]",
        short="Create a volume",
        flags=[
            Flag("driver", "d", "string", "Specify volume driver name", default="local"),
            Flag("name", "", "string", "Specify volume name", hidden=True),
            Flag("opt", "o", "list", "Set driver specific options", convert=str, metavar="map",
                 default_text="map[]"),
            Flag("label", "", "list", "Set metadata for a volume", convert=validate_label),
            Flag("group", "", "string", "Cluster Volume group (cluster volumes)"),
            Flag("scope", "", "string", 'Cluster Volume access scope ("single", "multi")',
                 default="single"),
            Flag("sharing", "", "string",
                 'Cluster Volume access sharing ("none", "readonly", "onewriter", "all")',
                 default="none"),
            Flag("availability", "", "string",
                 'Cluster Volume availability ("active", "pause", "drain")', default="active"),
            Flag("type", "", "string", 'Cluster Volume access type ("mount", "block")',
                 default="block"),
            Flag("secret", "", "list", "Cluster Volume secrets", convert=str, metavar="map",
                 default_text="map[]"),
            Flag("limit-bytes", "", "string", "Minimum size of the Cluster Volume in bytes",
                 metavar="bytes"),
            Flag("required-bytes", "", "string", "Maximum size of the Cluster Volume in bytes",
                 metavar="bytes"),
            Flag("topology-required", "", "list",
                 "A topology that the Cluster Volume must be accessible from", convert=str),
            Flag("topology-preferred", "", "list",
                 "A topology that the Cluster Volume would be preferred in", convert=str),
        ],
        args=("max", 1),
        run=run_create,
    )


def volume_ls_command() -> Command:
    return Command(
        use="ls [OPTIONS]",
        short="List volumes",
        aliases=f"{PROG} volume ls, {PROG} volume list",
        flags=[
            Flag("quiet", "q", "bool", "Only display volume names"),
            Flag("format", "", "string", FORMAT_HELP),
            Flag("filter", "f", "filter", 'Provide filter values (e.g. "dangling=true")'),
            Flag("cluster", "", "bool",
                 "Display only cluster volumes, and use cluster volume list formatting"),
        ],
        args=("none", 0),
        run=run_ls,
    )


def volume_rm_command() -> Command:
    return Command(
        use="rm [OPTIONS] VOLUME [VOLUME...]",
        short="Remove one or more volumes",
        long="Remove one or more volumes. You cannot remove a volume that is in use by a "
             "container.",
        aliases=f"{PROG} volume rm, {PROG} volume remove",
        flags=[Flag("force", "f", "bool", "Force the removal of one or more volumes")],
        args=("min", 1),
        run=run_rm,
    )


def volume_prune_command() -> Command:
    return Command(
        use="prune [OPTIONS]",
        short="Remove unused local volumes",
        flags=[
            Flag("all", "a", "bool", "Remove all unused volumes, not just anonymous ones"),
            Flag("force", "f", "bool", "Do not prompt for confirmation"),
            Flag("filter", "", "filter", 'Provide filter values (e.g. "label=<label>")'),
        ],
        args=("none", 0),
        run=run_prune,
    )
