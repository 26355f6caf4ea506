"""``wharfie version``: the Client block, and the Server block from ``/version``."""

from __future__ import annotations

import platform
import sys
from typing import Any

from wharfie import API_VERSION, __version__
from wharfie.cli.command import INSPECT_FORMAT_HELP, Cli, Command, Flag, Options, StatusError
from wharfie.cli.gotemplate import GoStruct, TemplateError

DEFAULT_TEMPLATE = """{{with .Client -}}
Client:{{if ne .Platform nil}}{{if ne .Platform.Name ""}} {{.Platform.Name}}{{end}}{{end}}
 Version:\t{{.Version}}
 API version:\t{{.APIVersion}}{{if ne .APIVersion .DefaultAPIVersion}} (downgraded from {{.DefaultAPIVersion}}){{end}}
 Python version:\t{{.GoVersion}}
 Git commit:\t{{.GitCommit}}
 Built:\t{{.BuildTime}}
 OS/Arch:\t{{.Os}}/{{.Arch}}
 Context:\t{{.Context}}
{{- end}}

{{- if ne .Server nil}}{{with .Server}}

Server:{{if ne .Platform.Name ""}} {{.Platform.Name}}{{end}}
 {{- range $component := .Components}}
 {{$component.Name}}:
  {{- if eq $component.Name "Engine" }}
  Version:\t{{.Version}}
  API version:\t{{index .Details "ApiVersion"}} (minimum version {{index .Details "MinAPIVersion"}})
  Go version:\t{{index .Details "GoVersion"}}
  Git commit:\t{{index .Details "GitCommit"}}
  Built:\t{{index .Details "BuildTime"}}
  OS/Arch:\t{{index .Details "Os"}}/{{index .Details "Arch"}}
  Experimental:\t{{index .Details "Experimental"}}
  {{- else }}
  Version:\t{{$component.Version}}
  {{- $detailsOrder := getDetailsOrder $component}}
  {{- range $key := $detailsOrder}}
  {{$key}}:\t{{index $component.Details $key}}
   {{- end}}
  {{- end}}
 {{- end}}
 {{- end}}{{- end}}"""

GIT_COMMIT = "unknown"


def go_arch() -> str:
    m = platform.machine().lower()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386",
            "i386": "386", "ppc64le": "ppc64le", "s390x": "s390x"}.get(m, m)


def reformat_date(build_time: str) -> str:
    """RFC 3339 → Go's ``time.ANSIC`` (``Mon Jan  2 15:04:05 2006``); else unchanged."""
    import datetime

    try:
        text = build_time.replace("Z", "+00:00")
        if "." in text:
            head, frac = text.split(".", 1)
            digits = "".join(c for c in frac if c.isdigit())
            tz = frac[len(digits):]
            text = f"{head}.{digits[:6].ljust(6, '0')}{tz}"
        dt = datetime.datetime.fromisoformat(text)
    except ValueError:
        return build_time
    return dt.strftime("%a %b ") + f"{dt.day:2d}" + dt.strftime(" %H:%M:%S %Y")


def client_version(cli: Cli | None, api_version: str) -> GoStruct:
    """The ``clientVersion`` struct (Go field names; JSON names per its tags)."""
    return GoStruct(
        "*system.clientVersion",
        {
            "Platform": None,
            "Version": __version__,
            "APIVersion": api_version,
            "DefaultAPIVersion": API_VERSION,
            "GitCommit": GIT_COMMIT,
            "GoVersion": f"python{platform.python_version()}",
            "Os": sys.platform if sys.platform != "linux" else "linux",
            "Arch": go_arch(),
            "BuildTime": "",
            "Context": "default",
        },
        json_names={"APIVersion": "ApiVersion"},
        omitempty=("Platform", "Version", "APIVersion", "DefaultAPIVersion", "GitCommit",
                   "GoVersion", "Os", "Arch", "BuildTime"),
        pointer=False,
    )


def server_version(sv: dict[str, Any]) -> GoStruct:
    """``types.Version`` from the ``/version`` answer (adds an Engine component if none)."""
    components = list(sv.get("Components") or [])
    found = False
    for comp in components:
        if isinstance(comp, dict) and comp.get("Name") == "Engine":
            found = True
            details = comp.get("Details")
            if isinstance(details, dict) and "BuildTime" in details:
                details["BuildTime"] = reformat_date(str(details["BuildTime"]))
        if isinstance(comp, dict) and isinstance(comp.get("Details"), dict):
            # a Go map[string]string: JSON-encoded with sorted keys
            comp["Details"] = dict(sorted(comp["Details"].items()))
    if not found:
        components.append({
            "Name": "Engine",
            "Version": sv.get("Version", ""),
            "Details": {
                "ApiVersion": sv.get("ApiVersion", ""),
                "MinAPIVersion": sv.get("MinAPIVersion", ""),
                "GitCommit": sv.get("GitCommit", ""),
                "GoVersion": sv.get("GoVersion", ""),
                "Os": sv.get("Os", ""),
                "Arch": sv.get("Arch", ""),
                "BuildTime": reformat_date(str(sv.get("BuildTime", ""))),
                "Experimental": "true" if sv.get("Experimental") else "false",
            },
        })
    fields = {
        "Platform": sv.get("Platform") or {"Name": ""},
        "Components": components,
        "Version": sv.get("Version", ""),
        "APIVersion": sv.get("ApiVersion", ""),
        "MinAPIVersion": sv.get("MinAPIVersion", ""),
        "GitCommit": sv.get("GitCommit", ""),
        "GoVersion": sv.get("GoVersion", ""),
        "Os": sv.get("Os", ""),
        "Arch": sv.get("Arch", ""),
        "KernelVersion": sv.get("KernelVersion", ""),
        "Experimental": bool(sv.get("Experimental", False)),
        "BuildTime": sv.get("BuildTime", ""),
    }
    return GoStruct(
        "*types.Version", fields,
        json_names={"APIVersion": "ApiVersion"},
        omitempty=("Components", "MinAPIVersion", "KernelVersion", "Experimental", "BuildTime"),
    )


def _details_order(component: Any) -> list[str]:
    details = component.get("Details") if isinstance(component, dict) else None
    return sorted(details) if isinstance(details, dict) else []


def run_version(cli: Cli, opts: Options, args: list[str]) -> int:
    from wharfie.cli import gotemplate
    from wharfie.cli.tabwriter import tabwrite

    fmt = opts.format
    if fmt == "":
        fmt = DEFAULT_TEMPLATE
    elif fmt == "json":
        fmt = "{{json .}}"
    try:
        tmpl = gotemplate.parse(
            fmt, "version", funcs={"getDetailsOrder": (_details_order, 1, 1)}
        )
    except TemplateError as e:
        raise StatusError(64, f"template parsing error: {e}") from None

    client = cli.client
    error: Exception | None = None
    server: GoStruct | None = None
    try:
        sv = client.server_version()
        server = server_version(sv if isinstance(sv, dict) else {})
    except Exception as e:  # noqa: BLE001 - printed after the client block, like docker
        error = e
    data = GoStruct(
        "system.versionInfo",
        {"Client": client_version(cli, client.version), "Server": server},
        pointer=False,
    )
    partial: list[str] = []
    text = ""
    exec_error: Exception | None = None
    try:
        text = tmpl.execute(data, partial=partial)
    except TemplateError as e:
        text = "".join(partial)
        exec_error = e
    cli.out.write(tabwrite(text + "\n", minwidth=20, padding=1))
    if error is not None:
        raise error
    if exec_error is not None:
        raise StatusError(1, str(exec_error))
    return 0


def version_command() -> Command:
    return Command(
        use="version [OPTIONS]",
        short="Show the wharfie version information",
        flags=[Flag("format", "f", "string", INSPECT_FORMAT_HELP)],
        args=("none", 0),
        run=run_version,
    )
