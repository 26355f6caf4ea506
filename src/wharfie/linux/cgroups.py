"""Control groups, v1 and v2 behind one interface.

Layouts: "v2" (cgroup2 at /sys/fs/cgroup), "v1" (one cgroup mount per controller), and
"hybrid" (v1 controllers plus an extra cgroup2 mount at /sys/fs/cgroup/unified that holds no
controllers we use). Hybrid is driven exactly like v1.

A container's cgroup is named by a path relative to each hierarchy's root, e.g.
"wharfie/<id>": v1 makes that directory in every controller hierarchy, v2 makes it once.

    cg = Cgroup.create("wharfie/<id>")
    warnings = cg.apply(spec["linux"]["resources"])   # OCI resources; returns Docker-style warnings
    cg.add(pid)                                       # before the container execs
    ... cg.stats(), cg.freeze(), cg.thaw(), cg.oom_killed(), cg.kill_all(signal.SIGKILL)
    cg.remove()                                       # after every process exited
"""

from __future__ import annotations

import errno
import logging
import os
import signal
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from wharfie.linux import mount

log = logging.getLogger(__name__)

ROOT = "/sys/fs/cgroup"
# v1 controllers a container is placed in (when mounted).
V1_CONTROLLERS = ("cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids",
                  "hugetlb")
# v2 controllers we enable for containers (when the parent offers them).
V2_CONTROLLERS = ("cpu", "cpuset", "memory", "io", "pids", "hugetlb")

SWAP_WARNING = ("Your kernel does not support swap limit capabilities or the cgroup is not "
                "mounted. Memory limited without swap.")
_MAX_UINT64 = 2**64 - 1
_CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Hierarchies:
    """Where the cgroup filesystems are mounted: v1 controller -> mount, and the cgroup2 mount."""

    mode: str
    v1: dict[str, str] = field(default_factory=dict)
    v2: str | None = None


def detect() -> Hierarchies:
    """Read the cgroup mounts of our mount namespace."""
    v1: dict[str, str] = {}
    v2 = None
    for m in mount.mountinfo():
        if m.fstype == "cgroup2" and (v2 is None or m.mount_point == ROOT):
            v2 = m.mount_point
        elif m.fstype == "cgroup":
            for opt in m.super_options.split(","):
                if opt in V1_CONTROLLERS:
                    v1.setdefault(opt, m.mount_point)
    if os.path.exists(os.path.join(ROOT, "cgroup.controllers")):
        return Hierarchies("v2", {}, ROOT)
    return Hierarchies("hybrid" if v2 else "v1", v1, v2)


def mode() -> str:
    """"v1" | "v2" | "hybrid"."""
    return detect().mode


# -- small file helpers -----------------------------------------------------------------------
def _read(path: str) -> str:
    with open(path) as fh:
        return fh.read().strip()


def _read_int(path: str, default: int = 0) -> int:
    try:
        text = _read(path)
    except FileNotFoundError:
        return default
    return _MAX_UINT64 if text == "max" else int(text)


def _write(path: str, value: str | int) -> None:
    # One write(2) per value: cgroup files act on each write separately.
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC)
    try:
        os.write(fd, str(value).encode())
    except OSError as exc:
        raise OSError(exc.errno, f"{exc.strerror} (writing {value!r})", path) from None
    finally:
        os.close(fd)


def _flat_keyed(path: str) -> dict[str, int]:
    """A "key value" per line file (memory.stat, cpu.stat, memory.events, …)."""
    out: dict[str, int] = {}
    try:
        text = _read(path)
    except FileNotFoundError:
        return out
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if value.strip().lstrip("-").isdigit():
            out[key] = int(value)
    return out


def _check_path(path: str) -> str:
    rel = path.strip("/")
    if not rel or any(part in ("", ".", "..") for part in rel.split("/")):
        raise ValueError(f"invalid cgroup path {path!r}")
    return rel


class Cgroup:
    """One container's cgroup across all hierarchies (see the module docstring)."""

    def __init__(self, path: str, hierarchies: Hierarchies | None = None) -> None:
        self.path = _check_path(path)
        self.h = hierarchies or detect()

    @property
    def v2(self) -> bool:
        return self.h.mode == "v2"

    def dir(self, controller: str | None = None) -> str | None:
        """The directory for `controller` (v2: the one directory), None if not mounted."""
        if self.v2:
            assert self.h.v2 is not None
            return os.path.join(self.h.v2, self.path)
        base = self.h.v1.get(controller or "")
        return os.path.join(base, self.path) if base else None

    def dirs(self) -> list[str]:
        """Every directory of this cgroup (co-mounted v1 controllers share one)."""
        if self.v2:
            return [self.dir() or ""]
        return list(dict.fromkeys(os.path.join(b, self.path) for b in self.h.v1.values()))

    # -- lifecycle --
    @classmethod
    def create(cls, path: str, hierarchies: Hierarchies | None = None,
               controllers: Iterable[str] | None = None) -> Cgroup:
        """Make the cgroup (and missing parents). v2 enables `controllers` (default: ours that
        the parent offers) in each parent's cgroup.subtree_control."""
        cg = cls(path, hierarchies)
        if cg.v2:
            assert cg.h.v2 is not None
            wanted = V2_CONTROLLERS if controllers is None else tuple(controllers)
            _mkdirs_v2(cg.h.v2, cg.path, wanted)
        else:
            cpuset_base = cg.h.v1.get("cpuset")
            for base in dict.fromkeys(cg.h.v1.values()):
                _mkdirs_v1(base, cg.path, cpuset=base == cpuset_base)
        return cg

    @classmethod
    def open(cls, path: str, hierarchies: Hierarchies | None = None) -> Cgroup:
        """An existing cgroup (after a daemon restart); FileNotFoundError if it is gone."""
        cg = cls(path, hierarchies)
        if not any(os.path.isdir(d) for d in cg.dirs()):
            raise FileNotFoundError(errno.ENOENT, "no such cgroup", cg.path)
        return cg

    def exists(self) -> bool:
        return any(os.path.isdir(d) for d in self.dirs())

    def remove(self, timeout: float = 5.0) -> None:
        """Remove the cgroup (and any sub-cgroups) everywhere; waits while processes drain."""
        deadline = time.monotonic() + timeout
        for top in self.dirs():
            for sub in _subdirs_deepest_first(top):
                _rmdir_retry(sub, deadline)

    # -- processes --
    def add(self, pid: int) -> None:
        """Move process `pid` (with all its threads) into this cgroup in every hierarchy."""
        for d in self.dirs():
            _write(os.path.join(d, "cgroup.procs"), pid)

    def pids(self) -> list[int]:
        """Processes in this cgroup (not in sub-cgroups)."""
        out: set[int] = set()
        for d in self.dirs():
            try:
                out.update(int(p) for p in _read(os.path.join(d, "cgroup.procs")).split())
            except FileNotFoundError:
                continue
        return sorted(out)

    def kill_all(self, sig: int = signal.SIGKILL) -> None:
        """Signal every process; frozen meanwhile so a forking process cannot escape the sweep."""
        d = self.dir("freezer")
        if self.v2 and sig == signal.SIGKILL and d and os.path.exists(f"{d}/cgroup.kill"):
            _write(f"{d}/cgroup.kill", 1)
            return
        can_freeze = d is not None and os.path.isdir(d)
        was_frozen = can_freeze and self.frozen()
        if can_freeze and not was_frozen:
            self.freeze()
        try:
            for pid in self.pids():
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
        finally:
            if can_freeze and not was_frozen:
                self.thaw()

    # -- freezer --
    def freeze(self, timeout: float = 10.0) -> None:
        """Stop every process; returns once the kernel reports the cgroup frozen."""
        deadline = time.monotonic() + timeout
        d = self._freezer_dir()
        while True:
            if self.v2:
                _write(f"{d}/cgroup.freeze", 1)
            else:
                _write(f"{d}/freezer.state", "FROZEN")  # repeated: new tasks may have joined
            if self.frozen():
                return
            if time.monotonic() > deadline:
                raise OSError(errno.ETIMEDOUT, "cgroup did not freeze", d)
            time.sleep(0.01)

    def thaw(self) -> None:
        d = self._freezer_dir()
        if self.v2:
            _write(f"{d}/cgroup.freeze", 0)
        else:
            _write(f"{d}/freezer.state", "THAWED")

    def frozen(self) -> bool:
        d = self._freezer_dir()
        if self.v2:
            return _flat_keyed(f"{d}/cgroup.events").get("frozen") == 1
        return _read(f"{d}/freezer.state") == "FROZEN"

    def _freezer_dir(self) -> str:
        d = self.dir("freezer")
        if d is None:
            raise OSError(errno.ENOTSUP, "the freezer cgroup controller is not mounted")
        return d

    # -- limits --
    def apply(self, resources: Mapping[str, Any]) -> list[str]:
        """Write OCI `linux.resources`; returns warnings for settings this host cannot honour
        (also logged), like Docker's "Memory limited without swap"."""
        warnings: list[str] = []
        if self.v2:
            _apply_v2(self, resources, warnings)
        else:
            _apply_v1(self, resources, warnings)
        for w in warnings:
            log.warning("cgroup %s: %s", self.path, w)
        return warnings

    def oom_killed(self) -> bool:
        """Whether the kernel OOM killer killed a process of this cgroup."""
        d = self.dir("memory")
        if d is None:
            return False
        name = "memory.events" if self.v2 else "memory.oom_control"
        return _flat_keyed(os.path.join(d, name)).get("oom_kill", 0) > 0

    def stats(self) -> dict[str, Any]:
        """Docker's /containers/{id}/stats sections: memory_stats, cpu_stats, pids_stats,
        blkio_stats (precpu_stats is the caller's previous cpu_stats)."""
        if self.v2:
            return _stats_v2(self)
        return _stats_v1(self)


# -- create/remove helpers --------------------------------------------------------------------
def _mkdirs_v1(base: str, rel: str, cpuset: bool) -> None:
    cur = base
    for part in rel.split("/"):
        parent, cur = cur, os.path.join(cur, part)
        try:
            os.mkdir(cur, 0o755)
        except FileExistsError:
            pass
        if cpuset:
            _inherit_cpuset(parent, cur)


def _inherit_cpuset(parent: str, child: str) -> None:
    """A new v1 cpuset starts with no CPUs/memory nodes and refuses tasks (ENOSPC): copy."""
    for name in ("cpuset.cpus", "cpuset.mems"):
        if not _read(os.path.join(child, name)):
            _write(os.path.join(child, name), _read(os.path.join(parent, name)))


def _mkdirs_v2(base: str, rel: str, wanted: Iterable[str]) -> None:
    wanted = tuple(wanted)
    cur = base
    for part in rel.split("/"):
        parent, cur = cur, os.path.join(cur, part)
        _enable_controllers(parent, wanted)
        try:
            os.mkdir(cur, 0o755)
        except FileExistsError:
            pass


def _enable_controllers(d: str, wanted: Iterable[str]) -> None:
    offered = set(_read(os.path.join(d, "cgroup.controllers")).split())
    enabled = set(_read(os.path.join(d, "cgroup.subtree_control")).split())
    todo = [c for c in wanted if c in offered and c not in enabled]
    if todo:
        _write(os.path.join(d, "cgroup.subtree_control"), " ".join("+" + c for c in todo))


def _subdirs_deepest_first(top: str) -> list[str]:
    if not os.path.isdir(top):
        return []
    found = [root for root, _, _ in os.walk(top)]
    return sorted(found, key=lambda p: p.count("/"), reverse=True)


def _rmdir_retry(d: str, deadline: float) -> None:
    while True:
        try:
            os.rmdir(d)
            return
        except FileNotFoundError:
            return
        except OSError as exc:
            if exc.errno != errno.EBUSY or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


# -- v1 limits --------------------------------------------------------------------------------
def _set(d: str | None, name: str, value: str | int) -> bool:
    """Write a control file of a controller directory; False if the controller is absent."""
    if d is None:
        return False
    _write(os.path.join(d, name), value)
    return True


def _apply_v1(cg: Cgroup, r: Mapping[str, Any], warnings: list[str]) -> None:
    _v1_memory(cg.dir("memory"), r.get("memory") or {}, warnings)
    _v1_cpu(cg, r.get("cpu") or {})
    pids = r.get("pids") or {}
    if pids.get("limit") is not None:
        limit = pids["limit"]
        _set(cg.dir("pids"), "pids.max", "max" if limit < 0 else limit)
    _v1_blkio(cg.dir("blkio"), r.get("blockIO") or {}, warnings)
    _v1_devices(cg.dir("devices"), r.get("devices") or [])
    _hugetlb(cg.dir("hugetlb"), r.get("hugepageLimits") or [], "limit_in_bytes", warnings)
    if r.get("unified"):
        warnings.append("cgroup v2 (unified) resources are ignored on a cgroup v1 host")


def _v1_memory(d: str | None, mem: Mapping[str, Any], warnings: list[str]) -> None:
    if not mem or d is None:
        return
    limit, swap = mem.get("limit"), mem.get("swap")
    if swap is not None and not os.path.exists(os.path.join(d, "memory.memsw.limit_in_bytes")):
        warnings.append(SWAP_WARNING)
        swap = None
    if limit is not None and swap is not None:
        # The kernel insists on memsw >= limit at every step: order the two writes.
        cur = _read_int(os.path.join(d, "memory.limit_in_bytes"))
        if swap == -1 or swap >= cur:
            _set(d, "memory.memsw.limit_in_bytes", swap)
            _set(d, "memory.limit_in_bytes", limit)
        else:
            _set(d, "memory.limit_in_bytes", limit)
            _set(d, "memory.memsw.limit_in_bytes", swap)
    elif limit is not None:
        _set(d, "memory.limit_in_bytes", limit)
    elif swap is not None:
        _set(d, "memory.memsw.limit_in_bytes", swap)
    if mem.get("reservation") is not None:
        _set(d, "memory.soft_limit_in_bytes", mem["reservation"])
    if mem.get("swappiness") is not None and 0 <= mem["swappiness"] <= 100:
        _set(d, "memory.swappiness", mem["swappiness"])
    if mem.get("disableOOMKiller"):
        _set(d, "memory.oom_control", 1)
    if mem.get("kernel") not in (None, -1) or mem.get("kernelTCP") not in (None, -1):
        warnings.append("kernel memory limits are not supported and were ignored")


def _v1_cpu(cg: Cgroup, cpu: Mapping[str, Any]) -> None:
    d = cg.dir("cpu")
    if cpu.get("shares"):
        _set(d, "cpu.shares", cpu["shares"])
    period, quota = cpu.get("period"), cpu.get("quota")
    if period:
        try:
            _set(d, "cpu.cfs_period_us", period)
        except OSError as exc:
            # A shorter period can break the current quota (EINVAL): quota first, then retry.
            if exc.errno != errno.EINVAL or quota is None:
                raise
            _set(d, "cpu.cfs_quota_us", quota)
            _set(d, "cpu.cfs_period_us", period)
    if quota:
        _set(d, "cpu.cfs_quota_us", quota)
    if cpu.get("burst") is not None:
        _set(d, "cpu.cfs_burst_us", cpu["burst"])
    if cpu.get("realtimePeriod"):
        _set(d, "cpu.rt_period_us", cpu["realtimePeriod"])
    if cpu.get("realtimeRuntime"):
        _set(d, "cpu.rt_runtime_us", cpu["realtimeRuntime"])
    if cpu.get("idle") is not None:
        _set(d, "cpu.idle", cpu["idle"])
    for key, name in (("cpus", "cpuset.cpus"), ("mems", "cpuset.mems")):
        if cpu.get(key):
            _set(cg.dir("cpuset"), name, cpu[key])


def _dev(entry: Mapping[str, Any]) -> str:
    return f"{entry['major']}:{entry['minor']}"


def _v1_blkio(d: str | None, bio: Mapping[str, Any], warnings: list[str]) -> None:
    if not bio or d is None:
        return
    weight_file = next((n for n in ("blkio.weight", "blkio.bfq.weight")
                        if os.path.exists(os.path.join(d, n))), None)
    if bio.get("weight") or bio.get("weightDevice"):
        if weight_file is None:
            warnings.append("Your kernel does not support Block I/O weight or the cgroup is "
                            "not mounted. Weight discarded.")
        else:
            if bio.get("weight"):
                _set(d, weight_file, bio["weight"])
            for wd in bio.get("weightDevice") or ():
                if wd.get("weight") is not None:
                    _set(d, weight_file + "_device", f"{_dev(wd)} {wd['weight']}")
    for key, name in (("throttleReadBpsDevice", "read_bps_device"),
                      ("throttleWriteBpsDevice", "write_bps_device"),
                      ("throttleReadIOPSDevice", "read_iops_device"),
                      ("throttleWriteIOPSDevice", "write_iops_device")):
        for t in bio.get(key) or ():
            _set(d, f"blkio.throttle.{name}", f"{_dev(t)} {t['rate']}")


def _v1_devices(d: str | None, rules: Iterable[Mapping[str, Any]]) -> None:
    """Device allow/deny rules, in order (the first is usually "deny all")."""
    for rule in rules:
        kind = rule.get("type") or "a"
        major = "*" if rule.get("major") is None else rule["major"]
        minor = "*" if rule.get("minor") is None else rule["minor"]
        access = rule.get("access") or "rwm"
        name = "devices.allow" if rule.get("allow") else "devices.deny"
        _set(d, name, f"{kind} {major}:{minor} {access}")


def _hugetlb(d: str | None, limits: Iterable[Mapping[str, Any]], suffix: str,
             warnings: list[str]) -> None:
    for lim in limits:
        path = os.path.join(d or "", f"hugetlb.{lim['pageSize']}.{suffix}")
        if d is None or not os.path.exists(path):
            warnings.append(f"hugetlb limit for {lim['pageSize']} pages is not supported here")
            continue
        _write(path, lim["limit"])


# -- v2 limits --------------------------------------------------------------------------------
def shares_to_weight(shares: int) -> int:
    """cpu.shares [2, 262144] -> cpu.weight [1, 10000] (runc's linear mapping)."""
    shares = min(max(shares, 2), 262144)
    return 1 + (shares - 2) * 9999 // 262142


def blkio_weight_to_io(weight: int) -> int:
    """blkio.weight [10, 1000] -> io.weight [1, 10000]."""
    weight = min(max(weight, 10), 1000)
    return 1 + (weight - 10) * 9999 // 990


def _apply_v2(cg: Cgroup, r: Mapping[str, Any], warnings: list[str]) -> None:
    d = cg.dir()
    assert d is not None
    _v2_memory(d, r.get("memory") or {}, warnings)
    _v2_cpu(d, r.get("cpu") or {})
    pids = r.get("pids") or {}
    if pids.get("limit") is not None:
        _write(f"{d}/pids.max", "max" if pids["limit"] < 0 else pids["limit"])
    _v2_io(d, r.get("blockIO") or {}, warnings)
    _hugetlb(d, r.get("hugepageLimits") or [], "max", warnings)
    if any(rule for rule in r.get("devices") or () if not _allows_all(rule)):
        warnings.append("device rules need eBPF on cgroup v2 and were not applied")
    for key, value in (r.get("unified") or {}).items():
        if "/" in key or key.startswith("."):
            raise ValueError(f"invalid cgroup v2 file name {key!r}")
        _write(f"{d}/{key}", value)


def _allows_all(rule: Mapping[str, Any]) -> bool:
    return bool(rule.get("allow")) and rule.get("type") in (None, "a") and \
        rule.get("major") is None and rule.get("minor") is None


def _v2_memory(d: str, mem: Mapping[str, Any], warnings: list[str]) -> None:
    limit, swap = mem.get("limit"), mem.get("swap")
    max_ = lambda v: "max" if v is None or v < 0 else v  # noqa: E731
    if swap is not None:
        if not os.path.exists(f"{d}/memory.swap.max"):
            warnings.append(SWAP_WARNING)
        elif swap < 0:
            _write(f"{d}/memory.swap.max", "max")
        elif limit is not None and limit >= 0:
            # OCI swap is memory+swap; v2 limits swap alone.
            _write(f"{d}/memory.swap.max", max(swap - limit, 0))
    if limit is not None:
        _write(f"{d}/memory.max", max_(limit))
    if mem.get("reservation") is not None:
        _write(f"{d}/memory.low", max_(mem["reservation"]))
    if mem.get("swappiness") is not None:
        warnings.append("memory swappiness is not supported on cgroup v2 and was ignored")
    if mem.get("kernel") not in (None, -1) or mem.get("kernelTCP") not in (None, -1):
        warnings.append("kernel memory limits are not supported and were ignored")


def _v2_cpu(d: str, cpu: Mapping[str, Any]) -> None:
    if cpu.get("shares"):
        _write(f"{d}/cpu.weight", shares_to_weight(cpu["shares"]))
    quota, period = cpu.get("quota"), cpu.get("period")
    if quota or period:
        q = "max" if not quota or quota < 0 else quota
        _write(f"{d}/cpu.max", f"{q} {period or 100000}")
    if cpu.get("burst") is not None:
        _write(f"{d}/cpu.max.burst", cpu["burst"])
    if cpu.get("idle") is not None:
        _write(f"{d}/cpu.idle", cpu["idle"])
    for key, name in (("cpus", "cpuset.cpus"), ("mems", "cpuset.mems")):
        if cpu.get(key):
            _write(f"{d}/{name}", cpu[key])


def _v2_io(d: str, bio: Mapping[str, Any], warnings: list[str]) -> None:
    if not bio:
        return
    if bio.get("weight"):
        if os.path.exists(f"{d}/io.bfq.weight"):
            _write(f"{d}/io.bfq.weight", bio["weight"])
        elif os.path.exists(f"{d}/io.weight"):
            _write(f"{d}/io.weight", f"default {blkio_weight_to_io(bio['weight'])}")
        else:
            warnings.append("Your kernel does not support Block I/O weight. Weight discarded.")
    for key, name in (("throttleReadBpsDevice", "rbps"), ("throttleWriteBpsDevice", "wbps"),
                      ("throttleReadIOPSDevice", "riops"), ("throttleWriteIOPSDevice", "wiops")):
        for t in bio.get(key) or ():
            _write(f"{d}/io.max", f"{_dev(t)} {name}={t['rate']}")


# -- stats ------------------------------------------------------------------------------------
def system_cpu_usage() -> int:
    """Host CPU time in ns, summed like Docker (user..softirq of /proc/stat's "cpu" line)."""
    with open("/proc/stat") as fh:
        for line in fh:
            if line.startswith("cpu "):
                ticks = sum(int(v) for v in line.split()[1:8])
                return ticks * 1_000_000_000 // _CLK_TCK
    return 0


def _host_memory() -> int:
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return 0


def _online_cpus() -> int:
    return os.sysconf("SC_NPROCESSORS_ONLN")


def _stats_v1(cg: Cgroup) -> dict[str, Any]:
    mem, cpuacct, cpu = cg.dir("memory"), cg.dir("cpuacct"), cg.dir("cpu")
    memory_stats: dict[str, Any] = {}
    if mem:
        limit = _read_int(f"{mem}/memory.limit_in_bytes")
        memory_stats = {
            "usage": _read_int(f"{mem}/memory.usage_in_bytes"),
            "max_usage": _read_int(f"{mem}/memory.max_usage_in_bytes"),
            "failcnt": _read_int(f"{mem}/memory.failcnt"),
            "limit": min(limit, _host_memory() or limit),
            "stats": _flat_keyed(f"{mem}/memory.stat"),
        }
    usage: dict[str, Any] = {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0}
    if cpuacct:
        acct = _flat_keyed(f"{cpuacct}/cpuacct.stat")
        usage = {
            "total_usage": _read_int(f"{cpuacct}/cpuacct.usage"),
            "percpu_usage": [int(v) for v in _read(f"{cpuacct}/cpuacct.usage_percpu").split()],
            "usage_in_kernelmode": acct.get("system", 0) * 1_000_000_000 // _CLK_TCK,
            "usage_in_usermode": acct.get("user", 0) * 1_000_000_000 // _CLK_TCK,
        }
    throttle = _flat_keyed(f"{cpu}/cpu.stat") if cpu else {}
    pids = cg.dir("pids")
    pids_limit = _read_int(f"{pids}/pids.max") if pids else 0
    blkio = cg.dir("blkio")
    return {
        "memory_stats": memory_stats,
        "cpu_stats": _cpu_stats(usage, throttle.get("nr_periods", 0),
                                throttle.get("nr_throttled", 0), throttle.get("throttled_time", 0)),
        "pids_stats": {"current": _read_int(f"{pids}/pids.current") if pids else 0,
                       "limit": 0 if pids_limit == _MAX_UINT64 else pids_limit},
        "blkio_stats": _blkio_v1(blkio) if blkio else _blkio_empty(),
    }


def _cpu_stats(usage: dict[str, Any], periods: int, throttled: int, throttled_ns: int
               ) -> dict[str, Any]:
    return {
        "cpu_usage": usage,
        "system_cpu_usage": system_cpu_usage(),
        "online_cpus": _online_cpus(),
        "throttling_data": {"periods": periods, "throttled_periods": throttled,
                            "throttled_time": throttled_ns},
    }


def _blkio_empty() -> dict[str, Any]:
    keys = ("io_service_bytes_recursive", "io_serviced_recursive", "io_queue_recursive",
            "io_service_time_recursive", "io_wait_time_recursive", "io_merged_recursive",
            "io_time_recursive", "sectors_recursive")
    return dict.fromkeys(keys)


def _blkio_v1(d: str) -> dict[str, Any]:
    out = _blkio_empty()
    for key in ("io_service_bytes_recursive", "io_serviced_recursive"):
        path = next((p for p in (f"{d}/blkio.{key}", f"{d}/blkio.throttle.{key}")
                     if os.path.exists(p)), None)
        if path:
            out[key] = _blkio_entries(_read(path))
    return out


def _blkio_entries(text: str) -> list[dict[str, Any]]:
    """Lines "8:0 Read 4096"; the device-less "Total N" line is dropped, as Docker does."""
    entries = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and ":" in parts[0]:
            major, minor = parts[0].split(":")
            entries.append({"major": int(major), "minor": int(minor), "op": parts[1],
                            "value": int(parts[2])})
    return entries


def _stats_v2(cg: Cgroup) -> dict[str, Any]:
    d = cg.dir()
    assert d is not None
    memory_stats: dict[str, Any] = {}
    if os.path.exists(f"{d}/memory.current"):
        limit = _read_int(f"{d}/memory.max")
        memory_stats = {"usage": _read_int(f"{d}/memory.current"),
                        "limit": min(limit, _host_memory() or limit),
                        "stats": _flat_keyed(f"{d}/memory.stat")}
    cpu = _flat_keyed(f"{d}/cpu.stat")
    usage = {"total_usage": cpu.get("usage_usec", 0) * 1000,
             "usage_in_kernelmode": cpu.get("system_usec", 0) * 1000,
             "usage_in_usermode": cpu.get("user_usec", 0) * 1000}
    return {
        "memory_stats": memory_stats,
        "cpu_stats": _cpu_stats(usage, cpu.get("nr_periods", 0), cpu.get("nr_throttled", 0),
                                cpu.get("throttled_usec", 0) * 1000),
        "pids_stats": {"current": _read_int(f"{d}/pids.current"),
                       "limit": _read_int(f"{d}/pids.max")},
        "blkio_stats": _blkio_v2(d),
    }


def _blkio_v2(d: str) -> dict[str, Any]:
    """io.stat lines "8:0 rbytes=1 wbytes=2 rios=3 wios=4 …" in Docker's v2 shape."""
    out = _blkio_empty()
    try:
        text = _read(f"{d}/io.stat")
    except FileNotFoundError:
        return out
    service_bytes, serviced = [], []
    for line in text.splitlines():
        dev, *pairs = line.split()
        major, minor = (int(x) for x in dev.split(":"))
        kv = dict(p.split("=", 1) for p in pairs if "=" in p)
        for op, b, n in (("read", "rbytes", "rios"), ("write", "wbytes", "wios")):
            service_bytes.append({"major": major, "minor": minor, "op": op,
                                  "value": int(kv.get(b, 0))})
            serviced.append({"major": major, "minor": minor, "op": op, "value": int(kv.get(n, 0))})
    out["io_service_bytes_recursive"] = service_bytes
    out["io_serviced_recursive"] = serviced
    return out
