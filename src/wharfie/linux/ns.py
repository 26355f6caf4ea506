"""Namespaces: unshare(2), setns(2), and joining a running container's namespaces.

Mount and user namespaces can only be entered by a single-threaded process (the kernel
answers EINVAL otherwise), so call these in a freshly forked/spawned child, never in the
threaded daemon.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Iterable

from wharfie.linux.libc import check, fsencode, libc

CLONE_NEWTIME = 0x00000080
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

# /proc/<pid>/ns/<kind> name -> clone flag.
KINDS: dict[str, int] = {
    "user": CLONE_NEWUSER,
    "mnt": CLONE_NEWNS,
    "uts": CLONE_NEWUTS,
    "ipc": CLONE_NEWIPC,
    "net": CLONE_NEWNET,
    "pid": CLONE_NEWPID,
    "cgroup": CLONE_NEWCGROUP,
    "time": CLONE_NEWTIME,
}

# The order join_namespaces enters them: user first (it grants the capabilities needed for
# the rest), mnt last (after it, /proc paths of the host may no longer resolve).
JOIN_ORDER = ("user", "ipc", "uts", "net", "pid", "cgroup", "time", "mnt")

libc.unshare.argtypes = [ctypes.c_int]
libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]
libc.sethostname.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
libc.setdomainname.argtypes = [ctypes.c_char_p, ctypes.c_size_t]


def unshare(flags: int) -> None:
    """Move the calling process into new namespaces (CLONE_NEWPID affects children only)."""
    check(libc.unshare(flags))


def setns(fd: int, nstype: int = 0) -> None:
    """Enter the namespace `fd` refers to; a non-zero `nstype` makes the kernel verify its kind."""
    check(libc.setns(fd, nstype))


def ns_path(pid: int | str, kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown namespace kind {kind!r}")
    return f"/proc/{pid}/ns/{kind}"


def open_ns(pid: int | str, kind: str) -> int:
    """An O_CLOEXEC fd on namespace `kind` of process `pid` ("self" works too)."""
    return os.open(ns_path(pid, kind), os.O_RDONLY | os.O_CLOEXEC)


def same_ns(fd: int, kind: str) -> bool:
    """Whether `fd` is the namespace of that kind we are already in."""
    a, b = os.fstat(fd), os.stat(ns_path("self", kind))
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def join_namespaces(pid: int, kinds: Iterable[str]) -> None:
    """Enter the given namespaces of `pid` (what `docker exec` does).

    Every fd is opened before the first setns, because entering the mount or pid namespace
    may change what /proc/<pid> means. Namespaces we already share are skipped: setns into
    one's own user namespace fails with EINVAL.
    """
    wanted = set(kinds)
    unknown = wanted - set(KINDS)
    if unknown:
        raise ValueError(f"unknown namespace kinds {sorted(unknown)}")
    fds: list[tuple[str, int]] = []
    try:
        for kind in JOIN_ORDER:
            if kind in wanted:
                fds.append((kind, open_ns(pid, kind)))
        for kind, fd in fds:
            if not same_ns(fd, kind):
                setns(fd, KINDS[kind])
    finally:
        for _, fd in fds:
            os.close(fd)


def sethostname(name: str) -> None:
    raw = fsencode(name) or b""
    check(libc.sethostname(raw, len(raw)))


def setdomainname(name: str) -> None:
    raw = fsencode(name) or b""
    check(libc.setdomainname(raw, len(raw)))
