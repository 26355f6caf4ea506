"""``wharfie inspect`` and ``wharfie image inspect``: raw JSON, indented like docker.

Without ``--format`` the daemon's bytes are re-indented (4 spaces) into one JSON
array, never re-encoded. With a template, each object is decoded and rendered; the
docker CLI first tries its typed Go structs and falls back to the raw map with
``missingkey=error``. We only have the raw map, so known Go maps (Labels, …) and
nil slices are marked to print the way the typed structs do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from wharfie.cli.command import (
    INSPECT_FORMAT_HELP,
    Cli,
    Command,
    Flag,
    Options,
    StatusError,
)
from wharfie.client.errors import APIError

#: keys whose values are Go maps in docker's types (missing keys print <no value>)
MAP_KEYS = frozenset({
    "Labels", "Volumes", "ExposedPorts", "Data", "Options", "DriverOpts", "Ports",
    "Networks", "Tmpfs", "Sysctls", "StorageOpt", "Annotations", "Attributes", "Details",
    "Status", "Containers", "PortBindings",
})
#: keys whose values are Go slices in docker's types (null prints [])
SLICE_KEYS = frozenset({
    "Env", "Cmd", "Entrypoint", "OnBuild", "Shell", "RepoTags", "RepoDigests", "Layers",
    "Mounts", "Binds", "CapAdd", "CapDrop", "Dns", "DnsOptions", "DnsSearch", "ExtraHosts",
    "Links", "Args", "Aliases", "DNSNames", "Devices", "Ulimits", "SecurityOpt",
    "MaskedPaths", "ReadonlyPaths", "GroupAdd", "VolumesFrom", "Test", "Manifests",
    "DeviceRequests", "DeviceCgroupRules", "BlkioWeightDevice", "ConsoleSize",
})

#: the image ``Config`` as CLI 28 types it (dockerspec.DockerOCIImageConfig, all omitempty)
IMAGE_CONFIG_KEYS = ("User", "ExposedPorts", "Env", "Entrypoint", "Cmd", "Volumes",
                     "WorkingDir", "Labels", "StopSignal", "ArgsEscaped", "Healthcheck",
                     "OnBuild", "Shell")

ALL_TYPES = ("config", "container", "image", "network", "node", "plugin", "secret",
             "service", "task", "volume")


def typed_view(value: Any, key: str = "") -> Any:
    """Decorate decoded JSON so templates print it like docker's typed structs."""
    from wharfie.cli.gotemplate import NIL_MAP, NIL_SLICE, GoMap

    if isinstance(value, dict):
        converted = {k: typed_view(v, k) for k, v in value.items()}
        return GoMap(converted) if key in MAP_KEYS else converted
    if isinstance(value, list):
        return [typed_view(v) for v in value]
    if value is None:
        if key in SLICE_KEYS:
            return NIL_SLICE
        if key in MAP_KEYS:
            return NIL_MAP
    return value


def image_view(obj: Any) -> Any:
    """Image objects: ``Config`` encodes like the CLI's typed OCI image config."""
    from wharfie.cli.gotemplate import OmitEmptyDict

    if isinstance(obj, dict) and isinstance(obj.get("Config"), dict):
        obj["Config"] = OmitEmptyDict(obj["Config"], IMAGE_CONFIG_KEYS)
    return obj


def inspect_objects(
    cli: Cli, refs: list[str], fmt: str, get_raw: Callable[[str], tuple[str, bytes]]
) -> int:
    """``inspect.Inspect``: fetch each ref, print JSON or the template per object."""
    import json

    from wharfie.cli import gotemplate
    from wharfie.client.jsonutil import compact_raw, indent_raw

    tmpl = _template(fmt)
    errors: list[str] = []
    raws: list[str] = []
    rendered: list[str] = []
    for ref in refs:
        try:
            obj_type, raw_bytes = get_raw(ref)
            raw = raw_bytes.decode(errors="replace")
        except StatusError as e:
            errors.append(e.message)
            continue
        except APIError as e:
            errors.append(str(e))
            continue
        if tmpl is None:
            raws.append(raw)
            continue
        try:
            obj = typed_view(json.loads(raw))
            if obj_type == "image":
                obj = image_view(obj)
        except ValueError as e:
            errors.append(f"unable to read inspect data: {e}")
            continue
        try:
            rendered.append(tmpl.execute(obj, missingkey_error=True) + "\n")
        except gotemplate.TemplateError as e:
            errors.append(f"template parsing error: {e}")
    if tmpl is None:
        if not raws:
            cli.out.write("[]\n")
        else:
            joined = "[" + ",".join(raws) + "]"
            text = compact_raw(joined) if fmt == "json" else indent_raw(joined)
            cli.out.write(text + "\n")
    else:
        cli.out.write("".join(rendered) if rendered else "\n")
    if errors:
        raise StatusError(1, "\n".join(errors))
    return 0


def _inspect_all(
    cli: Cli, size: bool, type_constraint: str
) -> Callable[[str], tuple[str, bytes]]:
    client = cli.client
    getters: list[tuple[str, Callable[[str], bytes]]] = [
        ("container", lambda ref: client.container_inspect_raw(ref, size)),
        ("image", client.image_inspect_raw),
        ("network", client.network_inspect_raw),
        ("volume", client.volume_inspect_raw),
        ("plugin", client.plugin_inspect_raw),
    ]

    def get(ref: str) -> tuple[str, bytes]:
        for obj_type, getter in getters:
            if type_constraint and obj_type != type_constraint:
                continue
            try:
                raw = getter(ref)
            except APIError as e:
                skippable = (
                    e.status == 404 or "not supported" in e.message
                    or "invalid reference format" in e.message
                )
                if not type_constraint and skippable:
                    continue
                raise
            if size and obj_type != "container":
                cli.err.write(f"WARNING: --size ignored for {obj_type}\n")
            return obj_type, raw
        raise StatusError(1, f"Error: No such object: {ref}")

    return get


def run_inspect(cli: Cli, opts: Options, args: list[str]) -> int:
    obj_type = opts.type
    if "type" in opts.changed and not obj_type:
        raise StatusError(1, 'type is empty: must be one of "' + '", "'.join(ALL_TYPES) + '"')
    if obj_type and obj_type not in ALL_TYPES:
        raise StatusError(
            1, f'unknown type: "{obj_type}": must be one of "' + '", "'.join(ALL_TYPES) + '"'
        )
    if obj_type in ("config", "node", "secret", "service", "task"):
        def swarm_only(ref: str) -> tuple[str, bytes]:
            raise StatusError(
                1, "Error response from daemon: This node is not a swarm manager. "
                "Use \"docker swarm init\" or \"docker swarm join\" to connect this node to "
                "swarm and try again."
            )

        return inspect_objects(cli, args, opts.format, swarm_only)
    return inspect_objects(cli, args, opts.format, _inspect_all(cli, opts.size, obj_type))


def run_image_inspect(cli: Cli, opts: Options, args: list[str]) -> int:
    from wharfie.cli.reference import encode_platform
    from wharfie.errors import InvalidArgument

    platform = None
    if opts.platform:
        try:
            platform = encode_platform(opts.platform)
        except InvalidArgument as e:
            raise StatusError(1, str(e)) from None
    client = cli.client
    return inspect_objects(
        cli, args, opts.format, lambda ref: ("image", client.image_inspect_raw(ref, platform))
    )


def inspect_command() -> Command:
    return Command(
        use="inspect [OPTIONS] NAME|ID [NAME|ID...]",
        short="Return low-level information on Docker objects",
        flags=[
            Flag("format", "f", "string", INSPECT_FORMAT_HELP),
            Flag("type", "", "string", "Only inspect objects of the given type"),
            Flag("size", "s", "bool", "Display total file sizes if the type is container"),
        ],
        args=("min", 1),
        run=run_inspect,
    )


def image_inspect_command() -> Command:
    return Command(
        use="inspect [OPTIONS] IMAGE [IMAGE...]",
        short="Display detailed information on one or more images",
        flags=[
            Flag("format", "f", "string", INSPECT_FORMAT_HELP),
            Flag("platform", "", "string",
                 "Inspect a specific platform of the multi-platform image.\n"
                 "If the image or the server is not multi-platform capable, the command will "
                 "error out if the platform does not match.\n"
                 "'os[/arch[/variant]]': Explicit platform (eg. linux/amd64)"),
        ],
        args=("min", 1),
        run=run_image_inspect,
    )


def container_inspect_command() -> Command:
    def run(cli: Cli, opts: Options, args: list[str]) -> int:
        client = cli.client
        return inspect_objects(
            cli, args, opts.format,
            lambda ref: ("container", client.container_inspect_raw(ref, opts.size)))

    return Command(
        use="inspect [OPTIONS] CONTAINER [CONTAINER...]",
        short="Display detailed information on one or more containers",
        flags=[
            Flag("format", "f", "string", INSPECT_FORMAT_HELP),
            Flag("size", "s", "bool", "Display total file sizes"),
        ],
        args=("min", 1),
        run=run,
    )


#: ``volume.Volume``'s fields in declaration order, with their omitempty rule
VOLUME_FIELDS = (("ClusterVolume", True), ("CreatedAt", True), ("Driver", False),
                 ("Labels", False), ("Mountpoint", False), ("Name", False), ("Options", False),
                 ("Scope", False), ("Status", True), ("UsageData", True))


def volume_struct(vol: dict[str, Any]) -> Any:
    """A ``*volume.Volume`` as the CLI decodes it (the typed struct, not the raw map)."""
    from wharfie.cli.gotemplate import NIL_MAP, GoMap, GoStruct

    fields: dict[str, Any] = {}
    for name, _omit in VOLUME_FIELDS:
        value = vol.get(name)
        if name in ("Labels", "Options", "Status"):
            value = GoMap(sorted(value.items())) if isinstance(value, dict) else NIL_MAP
        elif name in ("CreatedAt", "Driver", "Mountpoint", "Name", "Scope"):
            value = str(value or "")
        elif name == "UsageData" and isinstance(value, dict):
            value = GoStruct("*volume.UsageData", {"RefCount": int(value.get("RefCount") or 0),
                                                   "Size": int(value.get("Size") or 0)})
        fields[name] = value
    return GoStruct("*volume.Volume", fields,
                    omitempty=tuple(n for n, omit in VOLUME_FIELDS if omit))


def inspect_typed(cli: Cli, refs: list[str], fmt: str, get: Callable[[str], Any]) -> int:
    """``inspect.Inspect`` for typed objects (no raw JSON): Go's MarshalIndent."""
    from wharfie.cli import gotemplate
    from wharfie.client.jsonutil import indent_raw

    tmpl = _template(fmt)
    errors: list[str] = []
    values: list[Any] = []
    rendered: list[str] = []
    for ref in refs:
        try:
            value = get(ref)
        except APIError as e:
            errors.append(str(e))
            continue
        if tmpl is None:
            values.append(value)
            continue
        try:
            rendered.append(tmpl.execute(value) + "\n")
        except gotemplate.TemplateError as e:
            errors.append(f"template parsing error: {e}")
    if tmpl is None:
        if not values:
            cli.out.write("[]\n")
        else:
            text = gotemplate.go_json(values, escape_html=True)
            cli.out.write((text if fmt == "json" else indent_raw(text)) + "\n")
    else:
        cli.out.write("".join(rendered) if rendered else "\n")
    if errors:
        raise StatusError(1, "\n".join(errors))
    return 0


def volume_inspect_command() -> Command:
    def run(cli: Cli, opts: Options, args: list[str]) -> int:
        client = cli.client
        return inspect_typed(cli, args, opts.format,
                             lambda ref: volume_struct(client.volume_inspect(ref) or {}))

    return Command(
        use="inspect [OPTIONS] VOLUME [VOLUME...]",
        short="Display detailed information on one or more volumes",
        flags=[Flag("format", "f", "string", INSPECT_FORMAT_HELP)],
        args=("min", 1),
        run=run,
    )


def _template(fmt: str) -> Any:
    """A parsed --format template, or None for the default/`json` output."""
    from wharfie.cli import gotemplate

    if not fmt or fmt == "json":
        return None
    try:
        return gotemplate.parse(fmt)
    except gotemplate.TemplateError as e:
        raise StatusError(64, f"template parsing error: {e}") from None
