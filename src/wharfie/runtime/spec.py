"""Build an OCI runtime `config.json` the way dockerd does for a container.

Pure: every input (resolved user, paths, mounts, resources) is handed in, nothing is read
from disk here. The result is a plain dict that the built-in executor and `runc` both accept.
Docker's defaults come from moby's `oci/defaults.go`: the mounts, devices, masked and
read-only paths and the 14 default capabilities.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DEFAULT_CAPS = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
]

MASKED_PATHS = [
    "/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys",
    "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
    "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
]
READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]

# (path, major, minor, mode) for the minimal /dev; all are char devices.
DEFAULT_DEVICES = [
    ("/dev/null", 1, 3), ("/dev/zero", 1, 5), ("/dev/full", 1, 7),
    ("/dev/random", 1, 8), ("/dev/urandom", 1, 9), ("/dev/tty", 5, 0),
]
# Docker's default device cgroup allow-list (besides the devices above).
DEFAULT_DEVICE_RULES = [
    {"allow": False, "access": "rwm"},
    {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "rwm"},
    {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
    {"allow": True, "type": "c", "major": 1, "minor": 9, "access": "rwm"},
    {"allow": True, "type": "c", "major": 1, "minor": 8, "access": "rwm"},
    {"allow": True, "type": "c", "major": 5, "minor": 0, "access": "rwm"},
    {"allow": True, "type": "c", "major": 5, "minor": 1, "access": "rwm"},
    {"allow": True, "type": "c", "major": 1, "minor": 7, "access": "rwm"},
    {"allow": True, "type": "c", "major": 136, "access": "rwm"},
    {"allow": True, "type": "c", "major": 5, "minor": 2, "access": "rwm"},
    {"allow": True, "type": "c", "major": 10, "minor": 200, "access": "rwm"},
]


@dataclass
class User:
    uid: int = 0
    gid: int = 0
    additional_gids: list[int] = field(default_factory=list)
    home: str = "/root"


@dataclass
class Mount:
    destination: str
    type: str
    source: str
    options: list[str] = field(default_factory=list)

    def to_oci(self) -> dict[str, Any]:
        return {"destination": self.destination, "type": self.type, "source": self.source,
                "options": list(self.options)}


@dataclass
class SpecInputs:
    rootfs: str
    args: list[str]
    env: list[str]
    cwd: str = "/"
    user: User = field(default_factory=User)
    hostname: str = ""
    domainname: str = ""
    terminal: bool = False
    readonly_rootfs: bool = False
    privileged: bool = False
    capabilities: list[str] = field(default_factory=lambda: list(DEFAULT_CAPS))
    no_new_privileges: bool = False
    seccomp: dict[str, Any] | None = None        # OCI linux.seccomp, None = unconfined
    mounts: list[Mount] = field(default_factory=list)   # user mounts (binds, volumes, tmpfs)
    etc_files: dict[str, str] = field(default_factory=dict)  # /etc/hosts etc → host path
    network_ns: str | None = None                 # path to join; "" = new; None = host
    cgroups_path: str = ""
    resources: dict[str, Any] = field(default_factory=dict)
    shm_size: int = 64 << 20
    masked_paths: list[str] | None = None
    readonly_paths: list[str] | None = None
    sysctl: dict[str, str] = field(default_factory=dict)
    oom_score_adj: int | None = None
    rlimits: list[dict[str, Any]] = field(default_factory=list)
    annotations: dict[str, str] = field(default_factory=dict)


def default_mounts(shm_size: int, privileged: bool) -> list[Mount]:
    ro_sys = [] if privileged else ["ro"]
    return [
        Mount("/proc", "proc", "proc", ["nosuid", "noexec", "nodev"]),
        Mount("/dev", "tmpfs", "tmpfs", ["nosuid", "strictatime", "mode=755", "size=65536k"]),
        Mount("/dev/pts", "devpts", "devpts",
              ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]),
        Mount("/sys", "sysfs", "sysfs", ["nosuid", "noexec", "nodev", *ro_sys]),
        Mount("/sys/fs/cgroup", "cgroup", "cgroup", ["nosuid", "noexec", "nodev", "relatime", *ro_sys]),
        Mount("/dev/mqueue", "mqueue", "mqueue", ["nosuid", "noexec", "nodev"]),
        Mount("/dev/shm", "tmpfs", "shm", ["nosuid", "noexec", "nodev", "mode=1777", f"size={shm_size}"]),
    ]


def build(inp: SpecInputs) -> dict[str, Any]:
    caps = _all_caps() if inp.privileged else list(inp.capabilities)
    process: dict[str, Any] = {
        "terminal": inp.terminal,
        "user": {"uid": inp.user.uid, "gid": inp.user.gid,
                 **({"additionalGids": inp.user.additional_gids} if inp.user.additional_gids else {})},
        "args": list(inp.args),
        "env": list(inp.env),
        "cwd": inp.cwd or "/",
        "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
        "noNewPrivileges": inp.no_new_privileges,
    }
    if inp.rlimits:
        process["rlimits"] = inp.rlimits
    if inp.oom_score_adj is not None:
        process["oomScoreAdj"] = inp.oom_score_adj
    mounts = _merge_mounts(default_mounts(inp.shm_size, inp.privileged), inp)
    namespaces: list[dict[str, str]] = [{"type": t} for t in ("pid", "ipc", "uts", "mount")]
    if inp.network_ns is not None:
        namespaces.append({"type": "network", **({"path": inp.network_ns} if inp.network_ns else {})})
    linux: dict[str, Any] = {
        "namespaces": namespaces,
        "resources": {"devices": [{"allow": True, "access": "rwm"}] if inp.privileged else DEFAULT_DEVICE_RULES,
                      **inp.resources},
        "cgroupsPath": inp.cgroups_path,
        "maskedPaths": [] if inp.privileged else (inp.masked_paths if inp.masked_paths is not None else MASKED_PATHS),
        "readonlyPaths": [] if inp.privileged else (inp.readonly_paths if inp.readonly_paths is not None else READONLY_PATHS),
        "devices": [] if inp.privileged else [
            {"path": p, "type": "c", "major": ma, "minor": mi, "fileMode": 0o666, "uid": 0, "gid": 0}
            for p, ma, mi in DEFAULT_DEVICES
        ],
    }
    if inp.sysctl:
        linux["sysctl"] = dict(inp.sysctl)
    if inp.seccomp is not None and not inp.privileged:
        linux["seccomp"] = inp.seccomp
    spec: dict[str, Any] = {
        "ociVersion": "1.2.0",
        "process": process,
        "root": {"path": inp.rootfs, "readonly": inp.readonly_rootfs},
        "hostname": inp.hostname,
        "mounts": [m.to_oci() for m in mounts],
        "linux": linux,
    }
    if inp.domainname:
        spec["domainname"] = inp.domainname
    if inp.annotations:
        spec["annotations"] = dict(inp.annotations)
    return spec


def _merge_mounts(defaults: list[Mount], inp: SpecInputs) -> list[Mount]:
    """User mounts replace defaults at the same destination (and anything below it, like moby)."""
    user_dests = {m.destination.rstrip("/") or "/" for m in inp.mounts}
    out = [m for m in defaults if not any(m.destination == d or m.destination.startswith(d + "/")
                                           for d in user_dests)]
    for dest, host_path in inp.etc_files.items():
        if dest not in user_dests:
            out.append(Mount(dest, "bind", host_path, ["rbind", "rprivate"]))
    out.extend(inp.mounts)
    return out


def _all_caps() -> list[str]:
    from wharfie.linux import caps

    return caps.available()
