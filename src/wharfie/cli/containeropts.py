"""The flags of ``run``/``create`` and their translation into a create request.

Mirrors the docker CLI's ``containerOptions``: the same flag names, types (as shown
in help), validation messages, and the same ``Config``/``HostConfig``/
``NetworkingConfig`` bodies, keys in Go's struct order so the request reads like
docker's on the wire.
"""

from __future__ import annotations

import os
import re
from typing import Any

from wharfie.cli.command import CLIError, Flag, Options

# ----------------------------------------------------------------------------
# Value parsers (pflag Value types); a ValueError's text is pflag's reason


def ram_in_bytes(size: str) -> int:
    """go-units ``RAMInBytes``: ``64m``, ``1.5GiB``, ``512`` (binary multiples)."""
    sep = max(size.rfind(c) for c in "01234567890. ")
    if sep == -1:
        raise ValueError(f"invalid size: '{size}'")
    if size[sep] != " ":
        num, sfx = size[: sep + 1], size[sep + 1 :]
    else:
        num, sfx = size[:sep], size[sep + 1 :]
    try:
        if not re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", num):
            raise ValueError
        value = float(num)
    except ValueError:
        raise ValueError(f'strconv.ParseFloat: parsing "{num}": invalid syntax') from None
    if value < 0:
        raise ValueError(f"invalid size: '{size}'")
    if not sfx:
        return int(value)
    if len(sfx) > 3:
        raise ValueError(f"invalid suffix: '{sfx}'")
    low = sfx.lower()
    if low[0] == "b":
        if len(low) > 1:
            raise ValueError(f"invalid suffix: '{low}'")
        return int(value)
    mul = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}.get(low[0])
    if mul is None or (len(low) == 2 and low[1] != "b") or (len(low) == 3 and low[1:] != "ib"):
        raise ValueError(f"invalid suffix: '{low}'")
    return int(value * mul)


def mem_swap_bytes(value: str) -> int:
    return -1 if value == "-1" else ram_in_bytes(value)


def parse_cpus(value: str) -> int:
    """``opts.ParseCPUs``: a rational number of CPUs → nano CPUs."""
    from fractions import Fraction

    try:
        cpus = Fraction(value.strip() if value == value.strip() else "x")
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"failed to parse {value} as a rational number") from None
    nano = cpus * 1_000_000_000
    if nano.denominator != 1:
        raise ValueError("value is too precise")
    return int(nano)


def parse_uint(bits: int) -> Any:
    def convert(value: str) -> int:
        try:
            n = int(value, 0) if value[:2].lower() in ("0x", "0o", "0b") else int(value)
        except ValueError:
            raise ValueError(f'strconv.ParseUint: parsing "{value}": invalid syntax') from None
        if n < 0:
            raise ValueError(f'strconv.ParseUint: parsing "{value}": invalid syntax')
        if n >= 1 << bits:
            raise ValueError(f'strconv.ParseUint: parsing "{value}": value out of range')
        return n

    return convert


_DURATION_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000,
                   "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000}


def parse_duration_ns(value: str) -> int:
    """Go's ``time.ParseDuration`` in nanoseconds, with its error texts."""
    import decimal

    invalid = ValueError(f'time: invalid duration "{value}"')
    s = value
    neg = False
    if s[:1] in ("-", "+"):
        neg, s = s[0] == "-", s[1:]
    if s == "0":
        return 0
    if not s:
        raise invalid
    total = decimal.Decimal(0)
    while s:
        m = re.match(r"([0-9]*)(\.([0-9]*))?", s)
        assert m is not None
        if not m.group(1) and not m.group(3):
            raise invalid
        number = decimal.Decimal((m.group(1) or "0") + "." + (m.group(3) or "0"))
        s = s[m.end():]
        unit_match = re.match(r"[^0-9.]*", s)
        unit = unit_match.group(0) if unit_match else ""
        if not unit:
            raise ValueError(f'time: missing unit in duration "{value}"')
        if unit not in _DURATION_UNITS:
            raise ValueError(f'time: unknown unit "{unit}" in duration "{value}"')
        s = s[len(unit):]
        total += number * _DURATION_UNITS[unit]
    ns = int(total)
    return -ns if neg else ns


def validate_env(value: str) -> str:
    key, eq, _ = value.partition("=")
    if not key:
        raise ValueError(f"invalid environment variable: {value}")
    if eq:
        return value
    if key in os.environ:
        return f"{key}={os.environ[key]}"
    return value


_WHITESPACE = " \t"


def validate_label(value: str) -> str:
    key = value.partition("=")[0].lstrip(_WHITESPACE)
    if not key:
        raise ValueError(f"invalid label '{value}': empty name")
    if any(c in key for c in _WHITESPACE):
        raise ValueError(f"label '{key}' contains whitespaces")
    return value


def validate_attach(value: str) -> str:
    low = value.lower()
    if low in ("stdin", "stdout", "stderr"):
        return low
    raise ValueError("valid streams are STDIN, STDOUT and STDERR")


def parse_ulimit(value: str) -> dict[str, Any]:
    """go-units ``ParseUlimit``: ``name=soft[:hard]``."""
    name, eq, limits = value.partition("=")
    if not eq:
        raise ValueError(f"invalid ulimit argument: {value}")
    valid = {"as", "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice",
             "nofile", "nproc", "rss", "rtprio", "rttime", "sigpending", "stack"}
    if name not in valid:
        raise ValueError(f"invalid ulimit type: {name}")
    soft_s, colon, hard_s = limits.partition(":")
    try:
        soft = int(soft_s)
        hard = int(hard_s) if colon else soft
    except ValueError:
        bad = hard_s if colon and soft_s.lstrip("-").isdigit() else soft_s
        raise ValueError(f'strconv.ParseInt: parsing "{bad}": invalid syntax') from None
    if soft > hard:
        raise ValueError(f"ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}")
    return {"Name": name, "Hard": hard, "Soft": soft}


def parse_mount(value: str) -> dict[str, Any]:
    """``opts.MountOpt.Set``: ``type=bind,source=/a,target=/b,readonly``."""
    import csv

    try:
        fields = next(csv.reader([value]))
    except (csv.Error, StopIteration) as e:
        raise ValueError(str(e)) from None
    mount: dict[str, Any] = {"Type": "volume"}
    volume_opts: dict[str, Any] | None = None
    bind_opts: dict[str, Any] | None = None
    tmpfs_opts: dict[str, Any] | None = None
    image_opts: dict[str, Any] | None = None

    def vol() -> dict[str, Any]:
        nonlocal volume_opts
        if volume_opts is None:
            volume_opts = {"Labels": {}, "DriverConfig": {}}
        return volume_opts

    def bind() -> dict[str, Any]:
        nonlocal bind_opts
        if bind_opts is None:
            bind_opts = {}
        return bind_opts

    def tmpfs() -> dict[str, Any]:
        nonlocal tmpfs_opts
        if tmpfs_opts is None:
            tmpfs_opts = {}
        return tmpfs_opts

    def parse_bool(key: str, val: str) -> bool:
        if val in ("1", "t", "T", "TRUE", "true", "True"):
            return True
        if val in ("0", "f", "F", "FALSE", "false", "False"):
            return False
        raise ValueError(f"invalid value for {key}: {val}")

    for field in fields:
        key, eq, val = field.partition("=")
        key = key.lower()
        if not eq:
            if key in ("readonly", "ro"):
                mount["ReadOnly"] = True
            elif key == "volume-nocopy":
                vol()["NoCopy"] = True
            elif key == "bind-nonrecursive":
                bind()["NonRecursive"] = True
            else:
                raise ValueError(f"invalid field '{field}' must be a key=value pair")
            continue
        if key == "type":
            mount["Type"] = val.lower()
        elif key in ("source", "src"):
            mount["Source"] = val
            if not os.path.isabs(val) and val.startswith("."):
                mount["Source"] = os.path.abspath(val)
        elif key in ("target", "dst", "destination"):
            mount["Target"] = val
        elif key in ("readonly", "ro"):
            mount["ReadOnly"] = parse_bool(key, val)
        elif key == "consistency":
            mount["Consistency"] = val.lower()
        elif key == "bind-propagation":
            bind()["Propagation"] = val.lower()
        elif key == "bind-nonrecursive":
            bind()["NonRecursive"] = parse_bool(key, val)
        elif key == "bind-recursive":
            if val == "enabled":
                pass
            elif val == "disabled":
                bind()["NonRecursive"] = True
            elif val == "writable":
                bind()["ReadOnlyNonRecursive"] = True
            elif val == "readonly":
                bind()["ReadOnlyForceRecursive"] = True
            else:
                raise ValueError(f'invalid value for {key}: {val} (must be "enabled", '
                                 '"disabled", "writable", or "readonly")')
        elif key == "volume-subpath":
            vol()["Subpath"] = val
        elif key == "volume-nocopy":
            try:
                vol()["NoCopy"] = parse_bool(key, val)
            except ValueError:
                raise ValueError(f"invalid value for volume-nocopy: {val}") from None
        elif key == "volume-label":
            k, _, v = val.partition("=")
            if k:
                vol()["Labels"][k] = v
        elif key == "volume-driver":
            vol()["DriverConfig"]["Name"] = val
        elif key == "volume-opt":
            k, _, v = val.partition("=")
            options = vol()["DriverConfig"].setdefault("Options", {})
            if k:
                options[k] = v
        elif key == "image-subpath":
            if image_opts is None:
                image_opts = {}
            image_opts["Subpath"] = val
        elif key == "tmpfs-size":
            try:
                tmpfs()["SizeBytes"] = ram_in_bytes(val)
            except ValueError:
                raise ValueError(f"invalid value for {key}: {val}") from None
        elif key == "tmpfs-mode":
            try:
                tmpfs()["Mode"] = int(val, 8)
            except ValueError:
                raise ValueError(f"invalid value for {key}: {val}") from None
        else:
            raise ValueError(f"unexpected key '{key}' in '{field}'")
    mtype = mount["Type"]
    if not mtype:
        raise ValueError("type is required")
    if not mount.get("Target"):
        raise ValueError("target is required")
    for opts_, kind, prefix in ((volume_opts, "volume", "volume"), (image_opts, "image", "image"),
                                (bind_opts, "bind", "bind"), (tmpfs_opts, "tmpfs", "tmpfs")):
        if opts_ is not None and mtype != kind:
            raise ValueError(f"cannot mix '{prefix}-*' options with mount type '{mtype}'")
    if bind_opts is not None:
        if bind_opts.get("ReadOnlyNonRecursive") and not mount.get("ReadOnly"):
            raise ValueError("option 'bind-recursive=writable' requires 'readonly' to be "
                             "specified in conjunction")
        if bind_opts.get("ReadOnlyForceRecursive"):
            if not mount.get("ReadOnly"):
                raise ValueError("option 'bind-recursive=readonly' requires 'readonly' to be "
                                 "specified in conjunction")
            if bind_opts.get("Propagation") != "rprivate":
                raise ValueError("option 'bind-recursive=readonly' requires "
                                 "'bind-propagation=rprivate' to be specified in conjunction")
    # mount.Mount's JSON order, omitempty fields dropped
    out: dict[str, Any] = {"Type": mtype}
    if mount.get("Source"):
        out["Source"] = mount["Source"]
    out["Target"] = mount["Target"]
    if mount.get("ReadOnly"):
        out["ReadOnly"] = True
    if mount.get("Consistency"):
        out["Consistency"] = mount["Consistency"]
    if bind_opts is not None:
        out["BindOptions"] = bind_opts
    if volume_opts is not None:
        vo: dict[str, Any] = {}
        if volume_opts.get("NoCopy"):
            vo["NoCopy"] = True
        if volume_opts["Labels"]:
            vo["Labels"] = volume_opts["Labels"]
        if volume_opts.get("Subpath"):
            vo["Subpath"] = volume_opts["Subpath"]
        vo["DriverConfig"] = volume_opts["DriverConfig"]
        out["VolumeOptions"] = vo
    if image_opts is not None:
        out["ImageOptions"] = image_opts
    if tmpfs_opts is not None:
        out["TmpfsOptions"] = tmpfs_opts
    return out


def parse_network(value: str) -> dict[str, Any]:
    """``opts.NetworkOpt.Set``: a name, or ``name=N,alias=A,ip=…,driver-opt=k=v``."""
    if "=" not in value:
        return {"Target": value}
    import csv

    fields = next(csv.reader([value]))
    att: dict[str, Any] = {"Target": "", "Aliases": [], "DriverOpts": {}, "Links": [],
                           "LinkLocalIPs": []}
    for field in fields:
        key, eq, val = field.partition("=")
        if not eq:
            raise ValueError(f"invalid field '{field}' must be a key=value pair")
        key = key.strip().lower()
        if key == "name":
            att["Target"] = val
        elif key == "alias":
            att["Aliases"].append(val)
        elif key == "ip":
            att["IPv4Address"] = val
        elif key == "ip6":
            att["IPv6Address"] = val
        elif key == "mac-address":
            att["MacAddress"] = val
        elif key == "link-local-ip":
            att["LinkLocalIPs"].append(val)
        elif key == "driver-opt":
            k, eq2, v = val.partition("=")
            if not eq2:
                raise ValueError(f"invalid key value pair format in driver options: {val}")
            att["DriverOpts"][k] = v
        elif key == "gw-priority":
            try:
                att["GwPriority"] = int(val)
            except ValueError:
                raise ValueError(f"invalid gw-priority: {val}") from None
        else:
            raise ValueError(f"invalid field key {key}")
    return att


def _map_item(value: str) -> str:
    return value


def validate_sysctl(value: str) -> str:
    valid_prefixes = ("net.", "fs.mqueue.")
    valid_exact = ("kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
                   "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced")
    key, eq, _ = value.partition("=")
    if not eq:
        raise ValueError(f"sysctl '{value}' is not allowed")
    if key in valid_exact or key.startswith(valid_prefixes):
        return value
    raise ValueError(f"sysctl '{value}' is not allowed")


def parse_gpus(value: str) -> dict[str, Any]:
    """``opts.GpuOpts.Set`` (the common forms: ``all``, ``N``, ``device=a,b``)."""
    import csv

    req: dict[str, Any] = {"Driver": "", "Count": 0, "DeviceIDs": None,
                           "Capabilities": [["gpu"]], "Options": {}}
    seen: set[str] = set()
    for field in next(csv.reader([value])):
        key, eq, val = field.partition("=")
        if key in seen:
            raise ValueError(f"gpu request key '{key}' can be specified only once")
        seen.add(key)
        if not eq:
            seen.discard(key)
            seen.add("count")
            if field == "all":
                req["Count"] = -1
            else:
                try:
                    req["Count"] = int(field)
                except ValueError:
                    raise ValueError(f'invalid count ({field}): value must be either "all" '
                                     "or an integer") from None
            continue
        if key == "driver":
            req["Driver"] = val
        elif key == "count":
            if val == "all":
                req["Count"] = -1
            else:
                try:
                    req["Count"] = int(val)
                except ValueError:
                    raise ValueError(f'invalid count ({val}): value must be either "all" '
                                     "or an integer") from None
        elif key == "device":
            req["DeviceIDs"] = val.split(",")
        elif key == "capabilities":
            req["Capabilities"] = [val.split(",")]
        elif key == "options":
            k, _, v = val.partition("=")
            req["Options"][k] = v
        else:
            raise ValueError(f"unexpected key '{key}' in '{field}'")
    if req["Count"] and req["DeviceIDs"]:
        raise ValueError("cannot set both Count and DeviceIDs on device request")
    return req


def parse_weight_device(value: str) -> dict[str, Any]:
    path, colon, weight = value.partition(":")
    if not colon or not path.startswith("/dev/"):
        raise ValueError(f"bad format: {value}")
    try:
        w = int(weight)
    except ValueError:
        raise ValueError(f"invalid weight for device: {value}") from None
    if w > 0 and (w < 10 or w > 1000):
        raise ValueError(f"invalid weight for device: {value}")
    return {"Path": path, "Weight": w}


def parse_throttle_bps(value: str) -> dict[str, Any]:
    path, colon, rate = value.partition(":")
    if not colon or not path.startswith("/dev/"):
        raise ValueError(f"bad format: {value}")
    try:
        n = ram_in_bytes(rate)
    except ValueError:
        raise ValueError(f"invalid rate for device: {value}. The correct format is "
                         "<device-path>:<number>[<unit>]. Number must be a positive integer. "
                         "Unit is optional and can be kb, mb, or gb") from None
    return {"Path": path, "Rate": n}


def parse_throttle_iops(value: str) -> dict[str, Any]:
    path, colon, rate = value.partition(":")
    if not colon or not path.startswith("/dev/"):
        raise ValueError(f"bad format: {value}")
    if not rate.isdigit():
        raise ValueError(f"invalid rate for device: {value}. The correct format is "
                         "<device-path>:<number>. Number must be a positive integer")
    return {"Path": path, "Rate": int(rate)}


def validate_device_cgroup_rule(value: str) -> str:
    if re.fullmatch(r"[acb] ([0-9]+|\*):([0-9]+|\*) [rwm]{1,3}", value):
        return value
    raise ValueError(f"invalid device cgroup format '{value}'")


def validate_extra_host(value: str) -> str:
    name, sep, ip = value.partition("=") if "=" in value else value.partition(":")
    if not sep or not name:
        raise ValueError(f"bad format for add-host: {value!r}")
    if ip.startswith("[") and ip.endswith("]"):
        ip = ip[1:-1]
    if ip != "host-gateway":
        import ipaddress

        try:
            ipaddress.ip_address(ip)
        except ValueError:
            raise ValueError(f'invalid IP address in add-host: "{ip}"') from None
    return f"{name}:{ip}"


def validate_ip(value: str) -> str:
    import ipaddress

    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        raise ValueError(f"IP address is not correctly formatted: {value}") from None


# ----------------------------------------------------------------------------
# The flag set


def container_flags() -> list[Flag]:
    """``addFlags``: every Config/HostConfig flag of ``run`` and ``create``."""
    L = "list"
    return [
        # General purpose
        Flag("attach", "a", L, "Attach to STDIN, STDOUT or STDERR", convert=validate_attach),
        Flag("device-cgroup-rule", "", L, "Add a rule to the cgroup allowed devices list",
             convert=validate_device_cgroup_rule),
        Flag("device", "", L, "Add a host device to the container", convert=_map_item),
        Flag("gpus", "", "value", "GPU devices to add to the container ('all' to pass all GPUs)",
             convert=parse_gpus, metavar="gpu-request"),
        Flag("env", "e", L, "Set environment variables", convert=validate_env),
        Flag("env-file", "", L, "Read in a file of environment variables", convert=_map_item),
        Flag("entrypoint", "", "string", "Overwrite the default ENTRYPOINT of the image"),
        Flag("group-add", "", L, "Add additional groups to join", convert=_map_item),
        Flag("hostname", "h", "string", "Container host name"),
        Flag("domainname", "", "string", "Container NIS domain name"),
        Flag("interactive", "i", "bool", "Keep STDIN open even if not attached"),
        Flag("label", "l", L, "Set meta data on a container", convert=validate_label),
        Flag("label-file", "", L, "Read in a line delimited file of labels", convert=_map_item),
        Flag("read-only", "", "bool", "Mount the container's root filesystem as read only"),
        Flag("restart", "", "string", "Restart policy to apply when a container exits",
             default="no"),
        Flag("stop-signal", "", "string", "Signal to stop the container"),
        Flag("stop-timeout", "", "int", "Timeout (in seconds) to stop a container"),
        Flag("sysctl", "", L, "Sysctl options", convert=validate_sysctl, metavar="map",
             default_text="map[]"),
        Flag("tty", "t", "bool", "Allocate a pseudo-TTY"),
        Flag("ulimit", "", L, "Ulimit options", convert=parse_ulimit, metavar="ulimit",
             default_text="[]"),
        Flag("user", "u", "string", "Username or UID (format: <name|uid>[:<group|gid>])"),
        Flag("workdir", "w", "string", "Working directory inside the container"),
        Flag("rm", "", "bool", "Automatically remove the container and its associated "
             "anonymous volumes when it exits"),
        # Security
        Flag("cap-add", "", L, "Add Linux capabilities", convert=_map_item),
        Flag("cap-drop", "", L, "Drop Linux capabilities", convert=_map_item),
        Flag("privileged", "", "bool", "Give extended privileges to this container"),
        Flag("security-opt", "", L, "Security Options", convert=_map_item),
        Flag("userns", "", "string", "User namespace to use"),
        Flag("cgroupns", "", "string",
             "Cgroup namespace to use (host|private)\n"
             "'host':    Run the container in the Docker host's cgroup namespace\n"
             "'private': Run the container in its own private cgroup namespace\n"
             "'':        Use the cgroup namespace as configured by the\n"
             "           default-cgroupns-mode option on the daemon (default)"),
        # Network and ports
        Flag("add-host", "", L, "Add a custom host-to-IP mapping (host:ip)",
             convert=validate_extra_host),
        Flag("dns", "", L, "Set custom DNS servers", convert=validate_ip),
        Flag("dns-opt", "", L, "Set DNS options", convert=_map_item, hidden=True,
             dest_name="dns-option"),
        Flag("dns-option", "", L, "Set DNS options", convert=_map_item),
        Flag("dns-search", "", L, "Set custom DNS search domains", convert=_map_item),
        Flag("expose", "", L, "Expose a port or a range of ports", convert=_map_item),
        Flag("ip", "", "string", "IPv4 address (e.g., 172.30.100.104)"),
        Flag("ip6", "", "string", "IPv6 address (e.g., 2001:db8::33)"),
        Flag("link", "", L, "Add link to another container", convert=_map_item),
        Flag("link-local-ip", "", L, "Container IPv4/IPv6 link-local addresses",
             convert=_map_item),
        Flag("mac-address", "", "string", "Container MAC address (e.g., 92:d0:c6:0a:29:33)"),
        Flag("publish", "p", L, "Publish a container's port(s) to the host", convert=_map_item),
        Flag("publish-all", "P", "bool", "Publish all exposed ports to random ports"),
        Flag("net", "", L, "Connect a container to a network", convert=parse_network,
             metavar="network", hidden=True, dest_name="network"),
        Flag("network", "", L, "Connect a container to a network", convert=parse_network,
             metavar="network"),
        Flag("net-alias", "", L, "Add network-scoped alias for the container",
             convert=_map_item, hidden=True, dest_name="network-alias"),
        Flag("network-alias", "", L, "Add network-scoped alias for the container",
             convert=_map_item),
        # Logging and storage
        Flag("log-driver", "", "string", "Logging driver for the container"),
        Flag("volume-driver", "", "string", "Optional volume driver for the container"),
        Flag("log-opt", "", L, "Log driver options", convert=_map_item),
        Flag("storage-opt", "", L, "Storage driver options for the container",
             convert=_map_item),
        Flag("tmpfs", "", L, "Mount a tmpfs directory", convert=_map_item),
        Flag("volumes-from", "", L, "Mount volumes from the specified container(s)",
             convert=_map_item),
        Flag("volume", "v", L, "Bind mount a volume", convert=_map_item),
        Flag("mount", "", L, "Attach a filesystem mount to the container", convert=parse_mount,
             metavar="mount"),
        # Health-checking
        Flag("health-cmd", "", "string", "Command to run to check health"),
        Flag("health-interval", "", "value",
             "Time between running the check (ms|s|m|h) (default 0s)",
             convert=parse_duration_ns, metavar="duration", default=0),
        Flag("health-retries", "", "int", "Consecutive failures needed to report unhealthy"),
        Flag("health-timeout", "", "value",
             "Maximum time to allow one check to run (ms|s|m|h) (default 0s)",
             convert=parse_duration_ns, metavar="duration", default=0),
        Flag("health-start-period", "", "value",
             "Start period for the container to initialize before starting health-retries "
             "countdown (ms|s|m|h) (default 0s)",
             convert=parse_duration_ns, metavar="duration", default=0),
        Flag("health-start-interval", "", "value",
             "Time between running the check during the start period (ms|s|m|h) (default 0s)",
             convert=parse_duration_ns, metavar="duration", default=0),
        Flag("no-healthcheck", "", "bool", "Disable any container-specified HEALTHCHECK"),
        # Resource management
        Flag("blkio-weight", "", "value",
             "Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)",
             convert=parse_uint(16), metavar="uint16", default=0),
        Flag("blkio-weight-device", "", L, "Block IO weight (relative device weight)",
             convert=parse_weight_device, default_text="[]"),
        Flag("cidfile", "", "string", "Write the container ID to the file"),
        Flag("cpuset-cpus", "", "string", "CPUs in which to allow execution (0-3, 0,1)"),
        Flag("cpuset-mems", "", "string", "MEMs in which to allow execution (0-3, 0,1)"),
        Flag("cpu-count", "", "int", "CPU count (Windows only)"),
        Flag("cpu-percent", "", "int", "CPU percent (Windows only)"),
        Flag("cpu-period", "", "int", "Limit CPU CFS (Completely Fair Scheduler) period"),
        Flag("cpu-quota", "", "int", "Limit CPU CFS (Completely Fair Scheduler) quota"),
        Flag("cpu-rt-period", "", "int", "Limit CPU real-time period in microseconds"),
        Flag("cpu-rt-runtime", "", "int", "Limit CPU real-time runtime in microseconds"),
        Flag("cpu-shares", "c", "int", "CPU shares (relative weight)"),
        Flag("cpus", "", "value", "Number of CPUs", convert=parse_cpus, metavar="decimal",
             default=0),
        Flag("device-read-bps", "", L, "Limit read rate (bytes per second) from a device",
             convert=parse_throttle_bps, default_text="[]"),
        Flag("device-read-iops", "", L, "Limit read rate (IO per second) from a device",
             convert=parse_throttle_iops, default_text="[]"),
        Flag("device-write-bps", "", L, "Limit write rate (bytes per second) to a device",
             convert=parse_throttle_bps, default_text="[]"),
        Flag("device-write-iops", "", L, "Limit write rate (IO per second) to a device",
             convert=parse_throttle_iops, default_text="[]"),
        Flag("io-maxbandwidth", "", "value",
             "Maximum IO bandwidth limit for the system drive (Windows only)",
             convert=ram_in_bytes, metavar="bytes", default=0),
        Flag("io-maxiops", "", "value", "Maximum IOps limit for the system drive (Windows only)",
             convert=parse_uint(64), metavar="uint", default=0),
        Flag("kernel-memory", "", "value", "Kernel memory limit", convert=ram_in_bytes,
             metavar="bytes", default=0),
        Flag("memory", "m", "value", "Memory limit", convert=ram_in_bytes, metavar="bytes",
             default=0),
        Flag("memory-reservation", "", "value", "Memory soft limit", convert=ram_in_bytes,
             metavar="bytes", default=0),
        Flag("memory-swap", "", "value",
             "Swap limit equal to memory plus swap: '-1' to enable unlimited swap",
             convert=mem_swap_bytes, metavar="bytes", default=0),
        Flag("memory-swappiness", "", "int", "Tune container memory swappiness (0 to 100)",
             default=-1),
        Flag("oom-kill-disable", "", "bool", "Disable OOM Killer"),
        Flag("oom-score-adj", "", "int", "Tune host's OOM preferences (-1000 to 1000)"),
        Flag("pids-limit", "", "int", "Tune container pids limit (set -1 for unlimited)"),
        # Low-level execution
        Flag("cgroup-parent", "", "string", "Optional parent cgroup for the container"),
        Flag("ipc", "", "string", "IPC mode to use"),
        Flag("isolation", "", "string", "Container isolation technology"),
        Flag("pid", "", "string", "PID namespace to use"),
        Flag("shm-size", "", "value", "Size of /dev/shm", convert=ram_in_bytes, metavar="bytes",
             default=0),
        Flag("uts", "", "string", "UTS namespace to use"),
        Flag("runtime", "", "string", "Runtime to use for this container"),
        Flag("init", "", "bool",
             "Run an init inside the container that forwards signals and reaps processes"),
        Flag("annotation", "", L,
             "Add an annotation to the container (passed through to the OCI runtime)",
             convert=_map_item, metavar="map", default_text="map[]"),
    ]


def create_flags(verb: str) -> list[Flag]:
    """The flags of ``create`` (verb "creating") or ``run`` (verb "running")."""
    pull_choices = ('("always", "missing", "never")' if verb == "running"
                    else '("always", "|missing", "never")')
    return [
        Flag("name", "", "string", "Assign a name to the container"),
        Flag("pull", "", "string", f"Pull image before {verb} {pull_choices}",
             default="missing"),
        Flag("quiet", "q", "bool", "Suppress the pull output"),
        Flag("use-api-socket", "", "bool", "Bind mount Docker API socket and required auth"),
        Flag("help", "", "bool", "Print usage"),
        Flag("platform", "", "string", "Set platform if server is multi-platform capable",
             default=os.environ.get("DOCKER_DEFAULT_PLATFORM") or None),
        Flag("disable-content-trust", "", "bool", "Skip image verification", default=True),
        *container_flags(),
    ]


# ----------------------------------------------------------------------------
# parse(): flags → create request


def read_kv_file(path: str, lookup_env: bool) -> list[str]:
    """docker's ``kvfile.Parse`` (env files and label files)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        reason = (e.strerror or str(e)).strip()
        raise CLIError(f"open {path}: {reason[:1].lower() + reason[1:]}") from None
    lines: list[str] = []
    for n, raw in enumerate(data.split(b"\n"), 1):
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise CLIError(
                f"invalid env file ({path}): invalid utf8 bytes at line {n}: {list(raw)}"
            ) from None
        if n == 1:
            text = text.removeprefix("\ufeff")
        line = text.lstrip()
        if not line or line[0] == "#":
            continue
        key, eq, _ = line.partition("=")
        if not key:
            raise CLIError(f"invalid env file ({path}): no variable name on line '{line}'")
        if any(c in key for c in _WHITESPACE):
            raise CLIError(f"invalid env file ({path}): variable '{key}' contains whitespaces")
        if eq:
            lines.append(line)
        elif lookup_env and line in os.environ:
            lines.append(f"{key}={os.environ[line]}")
    return lines


def kv_map(values: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for v in values:
        k, _, val = v.partition("=")
        out[k] = val
    return out


def _split_proto_port(raw: str) -> tuple[str, str]:
    parts = raw.split("/")
    if not raw or not parts[0]:
        return "", ""
    if len(parts) == 1:
        return "tcp", raw
    if not parts[1]:
        return "tcp", parts[0]
    return parts[1], parts[0]


def _parse_port_range(ports: str) -> tuple[int, int]:
    if not ports:
        raise ValueError("empty string specified for ports")

    def one(s: str) -> int:
        if not s.isdigit() or int(s) > 65535:
            raise ValueError(f'strconv.ParseUint: parsing "{s}": invalid syntax')
        return int(s)

    if "-" not in ports:
        n = one(ports)
        return n, n
    parts = ports.split("-")
    start, end = one(parts[0]), one(parts[1])
    if end < start:
        raise ValueError(f"invalid range specified for port: {ports}")
    return start, end


def parse_port_specs(specs: list[str]) -> tuple[dict[str, dict[str, Any]],
                                                 dict[str, list[dict[str, str]]]]:
    """go-connections ``nat.ParsePortSpecs``: ``[ip:][hostPort:]containerPort[/proto]``."""
    import ipaddress

    exposed: dict[str, dict[str, Any]] = {}
    bindings: dict[str, list[dict[str, str]]] = {}
    for raw in specs:
        parts = raw.split(":")
        n = len(parts)
        container_port = parts[-1]
        if n == 1:
            ip, host_port = "", ""
        elif n == 2:
            ip, host_port = "", parts[0]
        elif n == 3:
            ip, host_port = parts[0], parts[1]
        else:
            ip, host_port = ":".join(parts[: n - 2]), parts[n - 2]
        proto, container_port = _split_proto_port(container_port)
        if ip.startswith("["):
            ip = ip[1:].rstrip("]")
        if ip:
            try:
                ipaddress.ip_address(ip)
            except ValueError:
                raise CLIError(f"invalid IP address: {ip}") from None
        if not container_port:
            raise CLIError(f"no port specified: {raw}<empty>")
        try:
            start, end = _parse_port_range(container_port)
        except ValueError:
            raise CLIError(f"invalid containerPort: {container_port}") from None
        hstart = hend = 0
        if host_port:
            try:
                hstart, hend = _parse_port_range(host_port)
            except ValueError:
                raise CLIError(f"invalid hostPort: {host_port}") from None
            if end - start != hend - hstart and end != start:
                raise CLIError(f"invalid ranges specified for container and host Ports: "
                               f"{container_port} and {host_port}")
        proto = proto.lower()
        if proto not in ("tcp", "udp", "sctp"):
            raise CLIError(f"invalid proto: {proto}")
        for i in range(end - start + 1):
            hp = str(hstart + i) if host_port else ""
            if start == end and hstart != hend:
                hp = f"{hp}-{hend}"
            port = f"{start + i}/{proto}"
            exposed.setdefault(port, {})
            bindings.setdefault(port, []).append({"HostIp": ip, "HostPort": hp})
    return exposed, bindings


def _convert_publish(specs: list[str]) -> list[str]:
    out = []
    for spec in specs:
        if "=" not in spec:
            out.append(spec)
            continue
        params = {"protocol": "tcp"}
        for param in spec.split(","):
            k, eq, v = param.partition("=")
            if not eq or not k:
                raise CLIError(
                    f"invalid publish opts format (should be name=value but got '{param}')")
            params[k] = v
        out.append(f"{params.get('published', '')}:{params.get('target', '')}/"
                   f"{params['protocol']}")
    return out


def _parse_volume_source(spec: str) -> tuple[str, str]:
    """compose ``loader.ParseVolume`` reduced to what ``run -v`` needs: (source, type)."""
    if not spec:
        raise CLIError("invalid empty volume spec")
    if len(spec) <= 2:
        return "", "volume"
    fields: list[str] = []
    buf = ""
    for ch in spec + "\x00":
        if ch == ":" and len(buf) == 1 and buf.isalpha():
            buf += ch
        elif ch in (":", "\x00"):
            if not buf:
                raise CLIError(f"invalid spec: {spec}: empty section between colons")
            if len(fields) >= 2 and ch == ":":
                raise CLIError(f"invalid spec: {spec}: too many colons")
            fields.append(buf)
            buf = ""
        else:
            buf += ch
    source = fields[0] if len(fields) >= 2 else ""
    if not source:
        return "", "volume"
    is_path = source[0] in "./~" or source.startswith("\\\\") or (
        len(source) > 1 and source[0].isalpha() and source[1] == ":")
    return source, ("bind" if is_path else "volume")


def _parse_security_opts(values: list[str]) -> list[str]:
    out = []
    for opt in values:
        k, sep, v = opt.partition("=")
        if not sep and k != "no-new-privileges":
            k, sep, v = opt.partition(":")
        if (not sep or not v) and k != "no-new-privileges":
            raise CLIError(f'Invalid --security-opt: "{opt}"')
        if k == "seccomp" and v not in ("builtin", "unconfined"):
            import json

            try:
                with open(v, "rb") as f:
                    content = f.read()
            except OSError as e:
                reason = (e.strerror or str(e)).strip()
                raise CLIError(f"opening seccomp profile ({v}) failed: open {v}: "
                               f"{reason[:1].lower() + reason[1:]}") from None
            try:
                compact = json.dumps(json.loads(content), separators=(",", ":"))
            except ValueError as e:
                raise CLIError(
                    f"compacting json for seccomp profile ({v}) failed: {e}") from None
            opt = f"seccomp={compact}"
        out.append(opt)
    return out


def _normalize_caps(caps: list[str]) -> list[str] | None:
    seen: list[str] = []
    for c in caps:
        c = c.upper()
        if c != "ALL" and not c.startswith("CAP_"):
            c = "CAP_" + c
        if c not in seen:
            seen.append(c)
    return sorted(seen) if seen else None


def _parse_device(spec: str) -> dict[str, str]:
    def valid_mode(mode: str) -> bool:
        return bool(mode) and all(c in "rwm" for c in mode) and len(set(mode)) == len(mode)

    if spec.count(":") > 2 or spec.split(":", 1)[0] == "":
        raise CLIError(f"bad format for path: {spec}")
    arr = spec.split(":")
    src, dst, perms = arr[0], "", "rwm"
    if len(arr) == 3:
        if not valid_mode(arr[2]):
            raise CLIError(f"bad mode specified: {arr[2]}")
        dst, perms = arr[1], arr[2]
    elif len(arr) == 2:
        if valid_mode(arr[1]):
            perms = arr[1]
        else:
            dst = arr[1]
    container_path = dst or src
    if not container_path.startswith("/"):
        raise CLIError(f"{container_path} is not an absolute path")
    return {"PathOnHost": src, "PathInContainer": os.path.normpath(dst or src),
            "CgroupPermissions": perms}


def parse_restart_policy(policy: str) -> dict[str, Any]:
    if not policy:
        return {"Name": "", "MaximumRetryCount": 0}
    name, colon, count = policy.partition(":")
    if colon and not name:
        raise CLIError("invalid restart policy format: no policy provided before colon")
    retries = 0
    if count:
        try:
            retries = int(count)
        except ValueError:
            raise CLIError("invalid restart policy format: maximum retry count must be an "
                           "integer") from None
    return {"Name": name, "MaximumRetryCount": retries}


def _endpoint(att: dict[str, Any]) -> dict[str, Any]:
    ipam = None
    if att.get("IPv4Address") or att.get("IPv6Address") or att.get("LinkLocalIPs"):
        ipam = {"IPv4Address": att.get("IPv4Address", ""),
                "IPv6Address": att.get("IPv6Address", ""),
                "LinkLocalIPs": att.get("LinkLocalIPs") or None}
    return {
        "IPAMConfig": ipam,
        "Links": att.get("Links") or None,
        "Aliases": att.get("Aliases") or None,
        "MacAddress": att.get("MacAddress", ""),
        "DriverOpts": att.get("DriverOpts") or None,
        "GwPriority": att.get("GwPriority", 0),
        "NetworkID": "", "EndpointID": "", "Gateway": "", "IPAddress": "", "IPPrefixLen": 0,
        "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "DNSNames": None,
    }


_BUILTIN_NETWORKS = ("default", "bridge", "host", "none")


def _user_defined(target: str) -> bool:
    return not (target in _BUILTIN_NETWORKS or target.startswith("container:"))


def _network_config(opts: Options) -> tuple[str, dict[str, Any]]:
    nets: list[dict[str, Any]] = [dict(n) for n in opts.network]
    common = {"Aliases": list(opts.network_alias), "Links": list(opts.link),
              "IPv4Address": opts.ip, "IPv6Address": opts.ip6,
              "MacAddress": opts.mac_address, "LinkLocalIPs": list(opts.link_local_ip)}

    def apply(att: dict[str, Any]) -> None:
        for key, flag in (("Aliases", "--network-alias"), ("Links", "--link"),
                          ("IPv4Address", "--ip"), ("IPv6Address", "--ip6"),
                          ("MacAddress", "--mac-address"), ("LinkLocalIPs", "--link-local-ip")):
            if att.get(key) and common[key]:
                what = {"Aliases": "per-network alias", "Links": "per-network links",
                        "IPv4Address": "per-network IPv4 address",
                        "IPv6Address": "per-network IPv6 address",
                        "MacAddress": "per-network MAC address",
                        "LinkLocalIPs": "per-network link-local IP addresses"}[key]
                raise CLIError(f"conflicting options: cannot specify both {flag} and {what}")
        if common["Aliases"]:
            att["Aliases"] = common["Aliases"]
        if _user_defined(att["Target"]) and common["Links"]:
            att["Links"] = common["Links"]
        for key in ("IPv4Address", "IPv6Address", "MacAddress"):
            if common[key]:
                att[key] = common[key]
        if common["LinkLocalIPs"]:
            att["LinkLocalIPs"] = common["LinkLocalIPs"]

    def check(att: dict[str, Any]) -> None:
        if not att["Target"].strip():
            raise CLIError("no name set for network")
        if not _user_defined(att["Target"]):
            if att.get("Aliases"):
                raise CLIError(
                    "network-scoped aliases are only supported for user-defined networks")
            if att.get("Links"):
                raise CLIError("links are only supported for user-defined networks")

    endpoints: dict[str, Any] = {}
    if not nets:
        att: dict[str, Any] = {"Target": "default"}
        apply(att)
        check(att)
        endpoints["default"] = _endpoint(att)
        return "default", endpoints
    user, builtin = False, False
    for i, att in enumerate(nets):
        if _user_defined(att["Target"]):
            user = True
        else:
            builtin = True
        if i == 0:
            apply(att)
        check(att)
        if att["Target"] in endpoints:
            raise CLIError(f'network "{att["Target"]}" is specified multiple times')
        ep = _endpoint(att)
        if i == 0 and len(nets) == 1 and ep == _endpoint({"Target": att["Target"]}):
            continue
        endpoints[att["Target"]] = ep
    if user and builtin:
        raise CLIError("conflicting options: cannot attach both user-defined and "
                       "non-user-defined network-modes")
    return nets[0]["Target"], endpoints


def parse(opts: Options, image: str, args: list[str], env: list[str]) -> dict[str, Any]:
    """``parse()``: the ``POST /containers/create`` body (Config + HostConfig + networking).

    ``env`` is the ``-e`` list after docker's proxy-config pass.
    """
    attach = list(opts.attach)
    attach_stdin = "stdin" in attach or opts.interactive
    attach_stdout = "stdout" in attach or not attach
    attach_stderr = "stderr" in attach or not attach

    if opts.mac_address and not re.fullmatch(r"([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}",
                                             opts.mac_address):
        raise CLIError(f"{opts.mac_address} is not a valid mac address")
    swappiness = opts.memory_swappiness
    if swappiness != -1 and not 0 <= swappiness <= 100:
        raise CLIError(f"invalid value: {swappiness}. Valid memory swappiness range is 0-100")

    binds: list[str] = []
    volumes: dict[str, Any] = {}
    for spec in dict.fromkeys(opts.volume):
        source, vtype = _parse_volume_source(spec)
        if source:
            to_bind = spec
            if vtype == "bind":
                host_part, colon, target = spec.partition(":")
                if colon and not os.path.isabs(host_part) and host_part.startswith("."):
                    to_bind = os.path.abspath(host_part) + ":" + target
            binds.append(to_bind)
        else:
            volumes[spec] = {}

    tmpfs: dict[str, str] = {}
    for t in opts.tmpfs:
        k, _, v = t.partition(":")
        tmpfs[k] = v

    entrypoint: list[str] | None = None
    if opts.entrypoint:
        entrypoint = [opts.entrypoint]
    elif "entrypoint" in opts.changed:
        entrypoint = [""]

    exposed, bindings = parse_port_specs(_convert_publish(list(opts.publish)))
    for e in opts.expose:
        if ":" in e:
            raise CLIError(f"invalid port format for --expose: {e}")
        proto, port = _split_proto_port(e)
        try:
            start, end = _parse_port_range(port)
        except ValueError as err:
            raise CLIError(f"invalid range format for --expose: {e}, error: {err}") from None
        for p in range(start, end + 1):
            exposed.setdefault(f"{p}/{proto}", {})

    devices = [_parse_device(d) for d in opts.device]

    env_vars: list[str] = []
    for path in opts.env_file:
        env_vars += read_kv_file(path, lookup_env=True)
    env_vars += env
    labels: list[str] = []
    for path in opts.label_file:
        labels += read_kv_file(path, lookup_env=False)
    labels += list(opts.label)

    for mode, flag, what in ((opts.pid, "--pid", "PID"), (opts.uts, "--uts", "UTS"),
                             (opts.userns, "--userns", "USER")):
        if mode and not _valid_ns_mode(mode, flag):
            raise CLIError(f"{flag}: invalid {what} mode")
    if opts.cgroupns not in ("", "host", "private"):
        raise CLIError("--cgroupns: invalid CGROUP mode")

    restart = parse_restart_policy(opts.restart)
    log_opts = kv_map(list(opts.log_opt))
    if opts.log_driver == "none" and opts.log_opt:
        raise CLIError(f"invalid logging opts for driver {opts.log_driver}")
    security = _parse_security_opts(list(opts.security_opt))
    masked: list[str] | None = None
    readonly_paths: list[str] | None = None
    if "systempaths=unconfined" in security:
        security = [s for s in security if s != "systempaths=unconfined"]
        masked, readonly_paths = [], []
    storage: dict[str, str] = {}
    for so in opts.storage_opt:
        k, eq, v = so.partition("=")
        if not eq:
            raise CLIError("invalid storage option")
        storage[k] = v

    health: dict[str, Any] | None = None
    have_health = bool(opts.health_cmd or opts.health_interval or opts.health_timeout
                       or opts.health_start_period or opts.health_retries
                       or opts.health_start_interval)
    if opts.no_healthcheck:
        if have_health:
            raise CLIError("--no-healthcheck conflicts with --health-* options")
        health = {"Test": ["NONE"]}
    elif have_health:
        for name in ("interval", "timeout", "retries", "start_period", "start_interval"):
            if getattr(opts, "health_" + name) < 0:
                raise CLIError(f"--health-{name.replace('_', '-')} cannot be negative")
        health = {}
        if opts.health_cmd:
            health["Test"] = ["CMD-SHELL", opts.health_cmd]
        for key, value in (("Interval", opts.health_interval), ("Timeout", opts.health_timeout),
                           ("StartPeriod", opts.health_start_period),
                           ("StartInterval", opts.health_start_interval),
                           ("Retries", opts.health_retries)):
            if value:
                health[key] = value

    network_mode, endpoints = _network_config(opts)
    if opts.rm and restart["Name"] not in ("", "no"):
        raise CLIError("conflicting options: cannot specify both --restart and --rm")

    device_requests = [opts.gpus] if opts.gpus else None

    config: dict[str, Any] = {
        "Hostname": opts.hostname, "Domainname": opts.domainname, "User": opts.user,
        "AttachStdin": attach_stdin, "AttachStdout": attach_stdout,
        "AttachStderr": attach_stderr,
    }
    if exposed:
        config["ExposedPorts"] = exposed
    config.update({
        "Tty": opts.tty, "OpenStdin": opts.interactive,
        "StdinOnce": bool(opts.interactive and attach_stdin),
        "Env": env_vars or None, "Cmd": args or None,
    })
    if health is not None:
        config["Healthcheck"] = health
    config.update({
        "Image": image, "Volumes": volumes, "WorkingDir": opts.workdir,
        "Entrypoint": entrypoint, "OnBuild": None, "Labels": kv_map(labels),
    })
    if opts.stop_signal:
        config["StopSignal"] = opts.stop_signal
    if "stop-timeout" in opts.changed:
        config["StopTimeout"] = opts.stop_timeout

    host: dict[str, Any] = {
        "Binds": binds or None, "ContainerIDFile": opts.cidfile,
        "LogConfig": {"Type": opts.log_driver, "Config": log_opts},
        "NetworkMode": network_mode, "PortBindings": bindings,
        "RestartPolicy": restart, "AutoRemove": opts.rm, "VolumeDriver": opts.volume_driver,
        "VolumesFrom": list(opts.volumes_from) or None, "ConsoleSize": [0, 0],
    }
    annotations = kv_map(list(opts.annotation))
    if annotations:
        host["Annotations"] = annotations
    host.update({
        "CapAdd": _normalize_caps(list(opts.cap_add)),
        "CapDrop": _normalize_caps(list(opts.cap_drop)),
        "CgroupnsMode": opts.cgroupns,
        "Dns": list(opts.dns), "DnsOptions": list(opts.dns_option),
        "DnsSearch": list(opts.dns_search), "ExtraHosts": list(opts.add_host) or None,
        "GroupAdd": list(opts.group_add) or None, "IpcMode": opts.ipc, "Cgroup": "",
        "Links": list(opts.link) or None, "OomScoreAdj": opts.oom_score_adj,
        "PidMode": opts.pid, "Privileged": opts.privileged,
        "PublishAllPorts": opts.publish_all, "ReadonlyRootfs": opts.read_only,
        "SecurityOpt": security or None,
    })
    if storage:
        host["StorageOpt"] = storage
    if tmpfs:
        host["Tmpfs"] = tmpfs
    host.update({"UTSMode": opts.uts, "UsernsMode": opts.userns, "ShmSize": opts.shm_size})
    sysctls = kv_map(list(opts.sysctl))
    if sysctls:
        host["Sysctls"] = sysctls
    if opts.runtime:
        host["Runtime"] = opts.runtime
    host.update({
        "Isolation": opts.isolation,
        "CpuShares": opts.cpu_shares, "Memory": opts.memory, "NanoCpus": opts.cpus,
        "CgroupParent": opts.cgroup_parent, "BlkioWeight": opts.blkio_weight,
        "BlkioWeightDevice": list(opts.blkio_weight_device),
        "BlkioDeviceReadBps": list(opts.device_read_bps),
        "BlkioDeviceWriteBps": list(opts.device_write_bps),
        "BlkioDeviceReadIOps": list(opts.device_read_iops),
        "BlkioDeviceWriteIOps": list(opts.device_write_iops),
        "CpuPeriod": opts.cpu_period, "CpuQuota": opts.cpu_quota,
        "CpuRealtimePeriod": opts.cpu_rt_period, "CpuRealtimeRuntime": opts.cpu_rt_runtime,
        "CpusetCpus": opts.cpuset_cpus, "CpusetMems": opts.cpuset_mems,
        "Devices": devices, "DeviceCgroupRules": list(opts.device_cgroup_rule) or None,
        "DeviceRequests": device_requests,
        "MemoryReservation": opts.memory_reservation, "MemorySwap": opts.memory_swap,
        "MemorySwappiness": swappiness, "OomKillDisable": opts.oom_kill_disable,
        "PidsLimit": opts.pids_limit, "Ulimits": list(opts.ulimit),
        "CpuCount": opts.cpu_count, "CpuPercent": opts.cpu_percent,
        "IOMaximumIOps": opts.io_maxiops, "IOMaximumBandwidth": opts.io_maxbandwidth,
    })
    if opts.kernel_memory:
        host["KernelMemory"] = opts.kernel_memory
    if opts.mount:
        host["Mounts"] = list(opts.mount)
    host["MaskedPaths"] = masked
    host["ReadonlyPaths"] = readonly_paths
    if "init" in opts.changed:
        host["Init"] = opts.init
    # the client drops KernelMemory for API >= 1.42 (done by the caller, which knows it)
    return {**config, "HostConfig": host, "NetworkingConfig": {"EndpointsConfig": endpoints}}


def _valid_ns_mode(mode: str, flag: str) -> bool:
    if flag == "--userns":
        return mode in ("", "host")
    if flag == "--uts":
        return mode in ("", "host")
    parts = mode.split(":", 1)
    if parts[0] == "host":
        return len(parts) == 1
    if parts[0] == "container":
        return len(parts) == 2 and bool(parts[1])
    return mode == ""


def proxy_env(env: list[str]) -> list[str]:
    """docker's proxy-config pass over ``-e``: last value per key wins, ``KEY``
    alone stays a bare name (the CLI has no proxies configured)."""
    merged: dict[str, str | None] = {}
    for item in env:
        k, eq, v = item.partition("=")
        merged[k] = v if eq else None
    return [k if v is None else f"{k}={v}" for k, v in merged.items()]
