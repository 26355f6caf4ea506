"""Linux capabilities: names, Docker's --cap-add/--cap-drop rules, and setting the sets.

Sequence for the container init (runc's), once the namespaces and mounts are done:

    caps.drop_bounding(bounding)        # needs CAP_SETPCAP: do it while still uid 0
    seccomp.load(profile)               # if not no_new_privs: needs CAP_SYS_ADMIN
    caps.keep_caps(True)                # else setuid(non-zero) empties permitted
    os.setgroups(...); os.setgid(gid); os.setuid(uid)
    caps.keep_caps(False)
    caps.apply(bounding, effective, permitted, inheritable, ambient)
    caps.set_no_new_privs(); seccomp.load(profile)   # when no_new_privs is asked for
    os.execve(...)

setuid() from 0 clears the effective set even with keepcaps; apply() first raises effective
back to permitted so it may still drop bounding caps (CAP_SETPCAP), then sets the final sets.
The kernel only lets capset() keep caps we hold: on a host whose bounding set lacks one
(CAP_SYS_RESOURCE on these VMs) asking for it fails with EPERM, so `available()` is what
"ALL" means, as in Docker.
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Iterable

from wharfie.errors import InvalidArgument
from wharfie.linux import prctl
from wharfie.linux.libc import check, libc

# Index = capability number (include/uapi/linux/capability.h).
NAMES: tuple[str, ...] = tuple("CAP_" + n for n in """
    CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP
    LINUX_IMMUTABLE NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER
    SYS_MODULE SYS_RAWIO SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE
    SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE AUDIT_CONTROL SETFCAP
    MAC_OVERRIDE MAC_ADMIN SYSLOG WAKE_ALARM BLOCK_SUSPEND AUDIT_READ PERFMON BPF
    CHECKPOINT_RESTORE
""".split())
NUMBERS: dict[str, int] = {name: i for i, name in enumerate(NAMES)}

# What `docker run` grants without --cap-add/--privileged (moby oci/caps/defaults.go).
DOCKER_DEFAULT_CAPS: tuple[str, ...] = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
)

ALL = "ALL"
_STATUS_FIELDS = {"CapInh": "inheritable", "CapPrm": "permitted", "CapEff": "effective",
                  "CapBnd": "bounding", "CapAmb": "ambient"}


@functools.cache
def last_cap() -> int:
    """The highest capability number the running kernel knows."""
    try:
        with open("/proc/sys/kernel/cap_last_cap") as fh:
            return int(fh.read())
    except OSError:
        return len(NAMES) - 1


def known() -> list[str]:
    """Names of every capability both we and the kernel know, in number order."""
    return list(NAMES[: min(last_cap(), len(NAMES) - 1) + 1])


def available() -> list[str]:
    """The capabilities this process holds (effective) — what a container can be given."""
    eff = current()["effective"]
    return [n for n in known() if n in eff]


def number(name: str) -> int:
    try:
        return NUMBERS[name]
    except KeyError:
        raise ValueError(f"unknown capability {name!r}") from None


def to_mask(names: Iterable[str]) -> int:
    mask = 0
    for name in names:
        mask |= 1 << number(name)
    return mask


def from_mask(mask: int) -> set[str]:
    """Names of the bits set in `mask`; bits we have no name for appear as CAP_<n>."""
    out = set()
    for bit in range(mask.bit_length()):
        if mask >> bit & 1:
            out.add(NAMES[bit] if bit < len(NAMES) else f"CAP_{bit}")
    return out


# -- Docker's user-facing rules ---------------------------------------------------------------
def normalize(name: str) -> str:
    """`net_admin`, `NET_ADMIN`, `CAP_NET_ADMIN` -> `CAP_NET_ADMIN`; `all` -> `ALL`."""
    upper = name.upper()
    if upper == ALL:
        return ALL
    if not upper.startswith("CAP_"):
        upper = "CAP_" + upper
    if upper not in NUMBERS or NUMBERS[upper] > last_cap():
        raise InvalidArgument(f'unknown capability: "{upper}"')
    if upper not in available():
        raise InvalidArgument("capability not supported by your kernel or not available in the"
                              f' current environment: "{upper}"')
    return upper


def normalize_list(names: Iterable[str]) -> list[str]:
    return [normalize(n) for n in names]


def tweak_caps(base: Iterable[str], add: Iterable[str], drop: Iterable[str],
               privileged: bool = False) -> list[str]:
    """The capability list of a container from its base set and --cap-add/--cap-drop.

    Docker's rules: privileged gets everything available; `ALL` in add means everything
    available minus drop; `ALL` in drop means exactly add; otherwise base minus drop, plus
    add — so a cap both added and dropped is kept.
    """
    add_n, drop_n = normalize_list(add), normalize_list(drop)
    if privileged:
        return available()
    if not add_n and not drop_n:
        return _dedupe(base)
    if ALL in add_n:
        return [c for c in available() if c not in drop_n]
    if ALL in drop_n:
        return _dedupe(add_n)
    return _dedupe([c for c in base if c not in drop_n] + add_n)


def _dedupe(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(names))


# -- the current process ----------------------------------------------------------------------
def current(pid: int | str = "self") -> dict[str, set[str]]:
    """The five capability sets of a process, by name (from /proc/<pid>/status)."""
    out: dict[str, set[str]] = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in _STATUS_FIELDS:
                out[_STATUS_FIELDS[key]] = from_mask(int(value, 16))
    return out


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


_LINUX_CAPABILITY_VERSION_3 = 0x20080522


def _capget() -> tuple[int, int, int]:
    hdr = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    check(libc.capget(ctypes.byref(hdr), data))
    join = lambda f: getattr(data[0], f) | getattr(data[1], f) << 32  # noqa: E731
    return join("effective"), join("permitted"), join("inheritable")


def _capset(effective: int, permitted: int, inheritable: int) -> None:
    hdr = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    for i in (0, 1):
        shift = 32 * i
        data[i].effective = effective >> shift & 0xFFFFFFFF
        data[i].permitted = permitted >> shift & 0xFFFFFFFF
        data[i].inheritable = inheritable >> shift & 0xFFFFFFFF
    check(libc.capset(ctypes.byref(hdr), data))


def _supported(names: Iterable[str]) -> list[int]:
    """Numbers of `names` the kernel knows; newer caps than the kernel's are ignored (runc)."""
    return [n for n in (number(name) for name in names) if n <= last_cap()]


def drop_bounding(keep: Iterable[str]) -> None:
    """Drop from the bounding set every capability not in `keep` (needs CAP_SETPCAP)."""
    keep_n = set(_supported(keep))
    for cap in range(last_cap() + 1):
        if cap not in keep_n and prctl.capbset_read(cap):
            prctl.capbset_drop(cap)


def set_sets(effective: Iterable[str], permitted: Iterable[str],
             inheritable: Iterable[str]) -> None:
    """capset(2) the effective/permitted/inheritable sets of this thread."""
    mask = lambda names: sum(1 << n for n in set(_supported(names)))  # noqa: E731
    _capset(mask(effective), mask(permitted), mask(inheritable))


def set_ambient(ambient: Iterable[str]) -> None:
    """Replace the ambient set (each cap must be permitted and inheritable already)."""
    prctl.ambient_clear_all()
    for cap in sorted(set(_supported(ambient))):
        prctl.ambient_raise(cap)


def apply(bounding: Iterable[str], effective: Iterable[str], permitted: Iterable[str],
          inheritable: Iterable[str], ambient: Iterable[str]) -> None:
    """Give this process exactly these capability sets; see the module docstring for when."""
    bounding, ambient = list(bounding), list(ambient)
    eff, prm, inh = _capget()
    if eff != prm:  # setuid() emptied effective: restore it to be allowed to drop bounding
        _capset(prm, prm, inh)
    drop_bounding(bounding)
    set_sets(effective, permitted, inheritable)
    set_ambient(ambient)


def keep_caps(on: bool) -> None:
    """PR_SET_KEEPCAPS: keep permitted caps across setuid() from 0 to non-zero."""
    prctl.set_keepcaps(on)


def set_no_new_privs() -> None:
    prctl.set_no_new_privs()
