"""``wharfie info``: the Client and Server sections, or ``--format`` over both."""

from __future__ import annotations

import re
from typing import IO, Any

from wharfie.cli.command import (
    INSPECT_FORMAT_HELP,
    Cli,
    CLIError,
    Command,
    Flag,
    Options,
    StatusError,
)
from wharfie.cli.gotemplate import GoStruct
from wharfie.client.errors import ConnectionFailed


def client_info(cli: Cli, with_api_version: bool) -> GoStruct:
    from wharfie.cli.commands.version import client_version

    cv = client_version(cli, cli.client.version if with_api_version else "")
    fields: dict[str, Any] = {"Debug": cli.debug}
    names: dict[str, str | None] = {}
    for name in cv.field_names():
        fields[name] = cv.get_field(name)
    names["APIVersion"] = "ApiVersion"
    fields["Plugins"] = []
    fields["Warnings"] = None
    return GoStruct(
        "*system.clientInfo", fields, json_names=names,
        omitempty=("Platform", "Version", "APIVersion", "DefaultAPIVersion", "GitCommit",
                   "GoVersion", "Os", "Arch", "BuildTime"),
    )


def docker_info(server: dict[str, Any] | None, client: GoStruct,
                server_errors: list[str]) -> GoStruct:
    fields: dict[str, Any] = dict(server or {})
    fields["ServerErrors"] = server_errors or None
    fields["ClientInfo"] = client
    fields["ClientErrors"] = None
    return GoStruct(
        "system.dockerInfo", fields,
        omitempty=("ServerErrors", "ClientInfo", "ClientErrors"), pointer=False,
    )


_PLACEHOLDER = re.compile(r"\.[a-zA-Z]")


def _needs_server(fmt: str, client: GoStruct) -> bool:
    from wharfie.cli import gotemplate

    if fmt in ("", "json", "{{json .}}") or not _PLACEHOLDER.search(fmt):
        return True
    try:
        tmpl = gotemplate.parse(fmt)
        sparse = GoStruct("system.sparseInfo", {"ClientInfo": client, "ClientErrors": None},
                          pointer=False)
        tmpl.execute(sparse)
    except gotemplate.TemplateError:
        return True
    return False


def run_info(cli: Cli, opts: Options, args: list[str]) -> int:
    fmt = opts.format
    client = client_info(cli, with_api_version=False)
    server: dict[str, Any] | None = None
    server_errors: list[str] = []
    conn_error: Exception | None = None
    if _needs_server(fmt, client):
        try:
            got = cli.client.info()
            server = got if isinstance(got, dict) else {}
        except ConnectionFailed as e:
            conn_error = e
        except Exception as e:  # noqa: BLE001 - reported in the Server section
            server_errors.append(str(e))
            if fmt:
                cli.err.write(f"{e}\n")
    if fmt == "":
        client = client_info(cli, with_api_version=True)
        ok = pretty_print(cli, client, server, server_errors)
        if conn_error is not None:
            raise conn_error
        if not ok:
            raise CLIError("errors pretty printing info")
        return 0
    if conn_error is not None:
        raise conn_error
    return format_info(cli, docker_info(server, client, server_errors), fmt)


def format_info(cli: Cli, info: GoStruct, fmt: str) -> int:
    from wharfie.cli import gotemplate

    if fmt == "json":
        fmt = "{{json .}}"
    try:
        tmpl = gotemplate.parse(fmt)
    except gotemplate.TemplateError as e:
        raise StatusError(64, f"template parsing error: {e}") from None
    partial: list[str] = []
    try:
        text = tmpl.execute(info, partial=partial)
    except gotemplate.TemplateError as e:
        cli.out.write("".join(partial) + "\n")
        raise CLIError(str(e)) from None
    cli.out.write(text + "\n")
    return 0


def _p(out: IO[str], *parts: Any) -> None:
    from wharfie.cli.gotemplate import go_sprint_value

    out.write(" ".join(go_sprint_value(p) for p in parts) + "\n")


def _p_nonempty(out: IO[str], label: str, value: Any) -> None:
    if value:
        out.write(f"{label} {value}\n")


def _decode_security_options(opts: list[str]) -> list[tuple[str, list[tuple[str, str]]]]:
    result: list[tuple[str, list[tuple[str, str]]]] = []
    for opt in opts:
        if "=" not in opt:
            result.append((opt, []))
            continue
        name = ""
        options: list[tuple[str, str]] = []
        for part in opt.split(","):
            k, sep, v = part.partition("=")
            if not sep:
                raise CLIError(f"invalid security option {part!r}")
            if k == "name":
                name = v
            else:
                options.append((k, v))
        result.append((name, options))
    return result


def pretty_print(cli: Cli, client: GoStruct, server: dict[str, Any] | None,
                 server_errors: list[str]) -> bool:
    out = cli.out
    out.write("Client:\n")
    _p_nonempty(out, " Version:   ", client.get_field("Version"))
    _p(out, " Context:   ", client.get_field("Context"))
    _p(out, " Debug Mode:", client.get_field("Debug"))
    out.write("\n")
    out.write("Server:\n")
    errors = list(server_errors)
    if server is not None:
        try:
            _print_server(cli, server)
        except CLIError as exc:
            errors.append(str(exc))
    for msg in errors:
        cli.err.write(f"ERROR: {msg}\n")
    return not errors


def _print_server(cli: Cli, info: dict[str, Any]) -> None:
    from wharfie.cli.formatter import bytes_size

    out = cli.out
    g = info.get

    def lst(v: Any) -> list[Any]:
        return v if isinstance(v, list) else []

    _p(out, " Containers:", g("Containers", 0))
    _p(out, "  Running:", g("ContainersRunning", 0))
    _p(out, "  Paused:", g("ContainersPaused", 0))
    _p(out, "  Stopped:", g("ContainersStopped", 0))
    _p(out, " Images:", g("Images", 0))
    _p_nonempty(out, " Server Version:", g("ServerVersion"))
    _p_nonempty(out, " Storage Driver:", g("Driver"))
    for pair in lst(g("DriverStatus")):
        out.write(f"  {pair[0]}: {pair[1]}\n")
    for pair in lst(g("SystemStatus")):
        out.write(f" {pair[0]}: {pair[1]}\n")
    _p_nonempty(out, " Logging Driver:", g("LoggingDriver"))
    _p_nonempty(out, " Cgroup Driver:", g("CgroupDriver"))
    _p_nonempty(out, " Cgroup Version:", g("CgroupVersion"))
    plugins = g("Plugins") or {}
    out.write(" Plugins:\n")
    _p(out, "  Volume:", " ".join(lst(plugins.get("Volume"))))
    _p(out, "  Network:", " ".join(lst(plugins.get("Network"))))
    if lst(plugins.get("Authorization")):
        _p(out, "  Authorization:", " ".join(plugins["Authorization"]))
    _p(out, "  Log:", " ".join(lst(plugins.get("Log"))))
    if lst(g("CDISpecDirs")):
        out.write(" CDI spec directories:\n")
        for d in lst(g("CDISpecDirs")):
            out.write(f"  {d}\n")
    if lst(g("DiscoveredDevices")):
        out.write(" Discovered Devices:\n")
        for dev in lst(g("DiscoveredDevices")):
            out.write(f"  {dev.get('Source', '')}: {dev.get('ID', '')}\n")
    swarm = g("Swarm") or {}
    _p(out, " Swarm:", swarm.get("LocalNodeState", ""))
    if swarm.get("LocalNodeState") not in ("inactive", "locked", "", None):
        _p(out, "  NodeID:", swarm.get("NodeID", ""))
        if swarm.get("Error"):
            _p(out, "  Error:", swarm["Error"])
        _p(out, "  Is Manager:", bool(swarm.get("ControlAvailable")))
        _p(out, "  Node Address:", swarm.get("NodeAddr", ""))
    runtimes = g("Runtimes") or {}
    if runtimes:
        _p(out, " Runtimes:", " ".join(runtimes))
        _p(out, " Default Runtime:", g("DefaultRuntime", ""))
    if g("OSType") == "linux":
        _p(out, " Init Binary:", g("InitBinary", ""))
        _p(out, " containerd version:", (g("ContainerdCommit") or {}).get("ID", ""))
        _p(out, " runc version:", (g("RuncCommit") or {}).get("ID", ""))
        _p(out, " init version:", (g("InitCommit") or {}).get("ID", ""))
        secopts = lst(g("SecurityOptions"))
        if secopts:
            decoded = _decode_security_options(secopts)
            out.write(" Security Options:\n")
            for name, options in decoded:
                out.write(f"  {name}\n")
                for k, v in options:
                    if k == "profile":
                        _p(out, "   Profile:", v)
    if g("OSType") == "windows":
        _p(out, " Default Isolation:", g("Isolation", ""))
    _p_nonempty(out, " Kernel Version:", g("KernelVersion"))
    _p_nonempty(out, " Operating System:", g("OperatingSystem"))
    _p_nonempty(out, " OSType:", g("OSType"))
    _p_nonempty(out, " Architecture:", g("Architecture"))
    _p(out, " CPUs:", g("NCPU", 0))
    _p(out, " Total Memory:", bytes_size(g("MemTotal", 0) or 0))
    _p_nonempty(out, " Name:", g("Name"))
    _p_nonempty(out, " ID:", g("ID"))
    _p(out, " Docker Root Dir:", g("DockerRootDir", ""))
    _p(out, " Debug Mode:", bool(g("Debug", False)))
    if g("Debug") or cli.debug:
        _p(out, "  File Descriptors:", g("NFd", 0))
        _p(out, "  Goroutines:", g("NGoroutines", 0))
        _p(out, "  System Time:", g("SystemTime", ""))
        _p(out, "  EventsListeners:", g("NEventsListener", 0))
    _p_nonempty(out, " HTTP Proxy:", g("HttpProxy"))
    _p_nonempty(out, " HTTPS Proxy:", g("HttpsProxy"))
    _p_nonempty(out, " No Proxy:", g("NoProxy"))
    labels = lst(g("Labels"))
    if labels:
        out.write(" Labels:\n")
        for label in labels:
            out.write(f"  {label}\n")
    _p(out, " Experimental:", bool(g("ExperimentalBuild", False)))
    reg = g("RegistryConfig") or {}
    index_configs = reg.get("IndexConfigs") or {}
    cidrs = lst(reg.get("InsecureRegistryCIDRs"))
    if cidrs or index_configs:
        out.write(" Insecure Registries:\n")
        for cfg in index_configs.values():
            if isinstance(cfg, dict) and not cfg.get("Secure"):
                out.write(f"  {cfg.get('Name', '')}\n")
        for cidr in cidrs:
            out.write(f"  {cidr}\n")
    mirrors = lst(reg.get("Mirrors"))
    if mirrors:
        out.write(" Registry Mirrors:\n")
        for m in mirrors:
            out.write(f"  {m}\n")
    _p(out, " Live Restore Enabled:", bool(g("LiveRestoreEnabled", False)))
    if g("ProductLicense"):
        _p(out, " Product License:", g("ProductLicense"))
    pools = lst(g("DefaultAddressPools"))
    if pools:
        out.write(" Default Address Pools:\n")
        for pool in pools:
            out.write(f"   Base: {pool.get('Base', '')}, Size: {pool.get('Size', 0)}\n")
    out.write("\n")
    for w in lst(g("Warnings")):
        cli.err.write(f"{w}\n")


def info_command() -> Command:
    return Command(
        use="info [OPTIONS]",
        short="Display system-wide information",
        aliases="wharfie system info, wharfie info",
        flags=[Flag("format", "f", "string", INSPECT_FORMAT_HELP)],
        args=("none", 0),
        run=run_info,
    )


def system_info_command() -> Command:
    return info_command()
