"""``wharfie network create|ls|inspect|rm|prune|connect|disconnect`` (docker's flags/output)."""

from __future__ import annotations

from typing import Any

from wharfie.cli import formatter
from wharfie.cli.command import (
    FORMAT_HELP,
    INSPECT_FORMAT_HELP,
    PROG,
    Cli,
    CLIError,
    Command,
    Flag,
    Options,
    StatusError,
)
from wharfie.cli.gotemplate import GoStruct, go_method

DEFAULT_TABLE = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}"
HEADER = {"ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE", "IPv4": "IPV4",
          "IPv6": "IPV6", "Internal": "INTERNAL", "CreatedAt": "CREATED AT", "Labels": "LABELS"}


def _filters(filters: Any) -> str | None:
    from wharfie.client.api import filters_json

    return filters_json({k: list(v) for k, v in filters.items()}) if filters else None


def network_row(net: dict[str, Any], trunc: bool) -> GoStruct:
    """The ``*formatter.networkContext`` a template sees for one network."""
    labels = net.get("Labels") or {}

    @go_method
    def label(name: Any = "") -> str:
        return str(labels.get(name, ""))

    nid = str(net.get("Id") or "")
    fields: dict[str, Any] = {
        "ID": nid[:12] if trunc else nid,
        "Name": str(net.get("Name") or ""),
        "Driver": str(net.get("Driver") or ""),
        "Scope": str(net.get("Scope") or ""),
        "IPv4": lambda: str(net.get("EnableIPv4", True)).lower(),
        "IPv6": lambda: str(bool(net.get("EnableIPv6"))).lower(),
        "Internal": lambda: str(bool(net.get("Internal"))).lower(),
        "CreatedAt": lambda: str(net.get("Created") or ""),
        "Labels": lambda: ",".join(f"{k}={v}" for k, v in sorted(labels.items())),
        "Label": label,
    }
    return GoStruct("*formatter.networkContext", fields)


def run_ls(cli: Cli, opts: Options, args: list[str]) -> int:
    params = {"filters": _filters(opts.filter)} if opts.filter else None
    nets = list(cli.client.get_json("/networks", params) or [])
    nets.sort(key=lambda n: str(n.get("Name") or ""))
    fmt = opts.format or formatter.TABLE
    if fmt == formatter.TABLE:
        fmt = "{{.ID}}" if opts.quiet else DEFAULT_TABLE
    elif opts.quiet:
        fmt = "{{.ID}}"
    cli.out.write(formatter.render(fmt, [network_row(n, not opts.no_trunc) for n in nets], HEADER))
    return 0


def run_create(cli: Cli, opts: Options, args: list[str]) -> int:
    from wharfie.cli.containeropts import kv_map

    subnets, gateways, ranges = list(opts.subnet), list(opts.gateway), list(opts.ip_range)
    if len(gateways) > len(subnets) or len(ranges) > len(subnets):
        raise CLIError("every ip-range or gateway must have a corresponding subnet")
    ipam = [{"Subnet": s, **({"IPRange": ranges[i]} if i < len(ranges) else {}),
             **({"Gateway": gateways[i]} if i < len(gateways) else {})}
            for i, s in enumerate(subnets)]
    body = {
        "Driver": opts.driver, "Scope": "", "EnableIPv6": True if opts.ipv6 else None,
        "IPAM": {"Driver": "default", "Options": {}, "Config": ipam},
        "Internal": opts.internal, "Attachable": opts.attachable, "Ingress": False, "ConfigOnly": False,
        "ConfigFrom": None, "Options": kv_map(list(opts.opt)), "Labels": kv_map(list(opts.label)),
        "Name": args[0],
    }
    if body["EnableIPv6"] is None:
        del body["EnableIPv6"]
    resp = cli.client.request("POST", "/networks/create", json_body=body).json() or {}
    if resp.get("Warning"):
        cli.err.write(f"WARNING: {resp['Warning']}\n")
    cli.out.write(f"{resp.get('Id', '')}\n")
    return 0


def run_rm(cli: Cli, opts: Options, args: list[str]) -> int:
    from wharfie.errors import WharfieError

    errors = []
    for name in args:
        try:
            cli.client.get_json(f"/networks/{name}")
            cli.client.request("DELETE", f"/networks/{name}").read()
        except WharfieError as e:
            if opts.force and getattr(e, "status", 0) == 404:
                continue
            errors.append(str(e))
            continue
        cli.out.write(name + "\n")
    if errors:
        raise StatusError(1, "\n".join(errors))
    return 0


def run_prune(cli: Cli, opts: Options, args: list[str]) -> int:
    from wharfie.cli.commands.prune import confirm

    if not opts.force and not confirm(cli, "WARNING! This will remove all custom networks not used by "
                                           "at least one container.\nAre you sure you want to continue?"):
        return 0
    params = {"filters": _filters(opts.filter)} if opts.filter else None
    report = cli.client.request("POST", "/networks/prune", params).json() or {}
    deleted = report.get("NetworksDeleted") or []
    if deleted:
        cli.out.write("Deleted Networks:\n" + "".join(f"{d}\n" for d in deleted))
    return 0


def run_connect(cli: Cli, opts: Options, args: list[str]) -> int:
    ipam = {k: v for k, v in (("IPv4Address", opts.ip), ("IPv6Address", opts.ip6)) if v}
    cfg = {"IPAMConfig": ipam or None, "Links": list(opts.link) or None, "Aliases": list(opts.alias) or None,
           "DriverOpts": None}
    cli.client.request("POST", f"/networks/{args[0]}/connect",
                       json_body={"Container": args[1], "EndpointConfig": cfg}).read()
    return 0


def run_disconnect(cli: Cli, opts: Options, args: list[str]) -> int:
    cli.client.request("POST", f"/networks/{args[0]}/disconnect",
                       json_body={"Container": args[1], "Force": opts.force}).read()
    return 0


def run_inspect(cli: Cli, opts: Options, args: list[str]) -> int:
    from wharfie.cli.commands.inspect import inspect_objects

    client = cli.client
    return inspect_objects(cli, args, opts.format, lambda ref: ("network", client.network_inspect_raw(ref)))


def network_create_command() -> Command:
    from wharfie.cli.containeropts import validate_label

    return Command(
        use="create [OPTIONS] NETWORK", short="Create a network",
        flags=[
            Flag("driver", "d", "string", "Driver to manage the Network", default="bridge"),
            Flag("opt", "o", "list", "Set driver specific options", convert=str, metavar="map",
                 default_text="map[]"),
            Flag("label", "", "list", "Set metadata on a network", convert=validate_label),
            Flag("internal", "", "bool", "Restrict external access to the network"),
            Flag("attachable", "", "bool", "Enable manual container attachment"),
            Flag("ipv6", "", "bool", "Enable or disable IPv6 networking"),
            Flag("subnet", "", "list", "Subnet in CIDR format that represents a network segment", convert=str),
            Flag("gateway", "", "list", "IPv4 or IPv6 Gateway for the master subnet", convert=str),
            Flag("ip-range", "", "list", "Allocate container ip from a sub-range", convert=str),
        ],
        args=("exact", 1), run=run_create,
    )


def network_ls_command() -> Command:
    return Command(
        use="ls [OPTIONS]", short="List networks", aliases=f"{PROG} network ls, {PROG} network list",
        flags=[
            Flag("quiet", "q", "bool", "Only display network IDs"),
            Flag("format", "", "string", FORMAT_HELP),
            Flag("filter", "f", "filter", 'Provide filter values (e.g. "driver=bridge")'),
            Flag("no-trunc", "", "bool", "Do not truncate the output"),
        ],
        args=("none", 0), run=run_ls,
    )


def network_inspect_command() -> Command:
    return Command(
        use="inspect [OPTIONS] NETWORK [NETWORK...]",
        short="Display detailed information on one or more networks",
        flags=[Flag("format", "f", "string", INSPECT_FORMAT_HELP),
               Flag("verbose", "v", "bool", "Verbose output for diagnostics")],
        args=("min", 1), run=run_inspect,
    )


def network_rm_command() -> Command:
    return Command(
        use="rm NETWORK [NETWORK...]", short="Remove one or more networks",
        aliases=f"{PROG} network rm, {PROG} network remove",
        flags=[Flag("force", "f", "bool", "Do not error if the network does not exist")],
        args=("min", 1), run=run_rm,
    )


def network_prune_command() -> Command:
    return Command(
        use="prune [OPTIONS]", short="Remove all unused networks",
        flags=[Flag("force", "f", "bool", "Do not prompt for confirmation"),
               Flag("filter", "", "filter", 'Provide filter values (e.g. "until=<timestamp>")')],
        args=("none", 0), run=run_prune,
    )


def network_connect_command() -> Command:
    return Command(
        use="connect [OPTIONS] NETWORK CONTAINER", short="Connect a container to a network",
        flags=[
            Flag("alias", "", "list", "Add network-scoped alias for the container", convert=str),
            Flag("ip", "", "string", "IPv4 address (e.g., \"172.30.100.104\")"),
            Flag("ip6", "", "string", "IPv6 address (e.g., \"2001:db8::33\")"),
            Flag("link", "", "list", "Add link to another container", convert=str),
        ],
        args=("exact", 2), run=run_connect,
    )


def network_disconnect_command() -> Command:
    return Command(
        use="disconnect [OPTIONS] NETWORK CONTAINER", short="Disconnect a container from a network",
        flags=[Flag("force", "f", "bool", "Force the container to disconnect from a network")],
        args=("exact", 2), run=run_disconnect,
    )
