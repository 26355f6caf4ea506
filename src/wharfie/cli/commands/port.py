"""``wharfie port``: published ports, from inspect's ``NetworkSettings.Ports``."""

from __future__ import annotations

import re

from wharfie.cli.command import PROG, Cli, CLIError, Command, Options


def _join_host_port(host: str, port: str) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def natural_key(s: str) -> list[object]:
    """``sortorder.NaturalLess``: digit runs compare as numbers."""
    return [(0, int(t), len(t)) if t.isdigit() else (1, t, 0)
            for t in re.findall(r"\d+|\D+", s)]


def run_port(cli: Cli, opts: Options, args: list[str]) -> int:
    info = cli.client.container_inspect(args[0])
    ports = (info.get("NetworkSettings") or {}).get("Ports") or {}
    out: list[str] = []
    if len(args) > 1:
        spec = args[1]
        port, _, proto = spec.partition("/")
        proto = proto or "tcp"
        if not port.isdigit() or int(port) > 65535:
            reason = "value out of range" if port.isdigit() else "invalid syntax"
            raise CLIError(
                f'Error: invalid port ({port}): strconv.ParseUint: parsing "{port}": {reason}')
        frontends = ports.get(f"{port}/{proto}")
        if not frontends:
            raise CLIError(f"Error: No public port '{spec}' published for {args[0]}")
        for f in frontends:
            out.append(_join_host_port(f.get("HostIp", ""), f.get("HostPort", "")))
    else:
        for private, frontends in ports.items():
            for f in frontends or []:
                out.append(f"{private} -> "
                           f"{_join_host_port(f.get('HostIp', ''), f.get('HostPort', ''))}")
    if out:
        out.sort(key=natural_key)
        cli.out.write("\n".join(out) + "\n")
    return 0


def port_command() -> Command:
    return Command(
        use="port CONTAINER [PRIVATE_PORT[/PROTO]]",
        short="List port mappings or a specific mapping for the container",
        aliases=f"{PROG} container port, {PROG} port",
        args=("range", 2),
        run=run_port,
    )
