"""The one ctypes handle on the C library that every `wharfie.linux` module shares.

`use_errno=True` makes ctypes save errno right after each foreign call, so `check()` reads
the errno of *this* call even if Python ran other code in between.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform

libc = ctypes.CDLL(None, use_errno=True)

# Raw syscall numbers for calls glibc does not wrap. The newer syscalls share one number
# on every architecture (the unified table from 5.x on); the old ones differ.
_SYSCALLS: dict[str, dict[str, int]] = {
    "x86_64": {"pivot_root": 155, "acct": 163, "keyctl": 250, "open_tree": 428,
               "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432,
               "mount_setattr": 442},
    "aarch64": {"pivot_root": 41, "acct": 89, "keyctl": 219, "open_tree": 428,
                "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432,
                "mount_setattr": 442},
}
_SYSCALLS["arm64"] = _SYSCALLS["aarch64"]

_syscall = libc.syscall
_syscall.restype = ctypes.c_long


def check(ret: int, filename: str | None = None, filename2: str | None = None) -> int:
    """Return `ret` unchanged, or raise OSError(errno) when a C call reported failure (-1)."""
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), filename, None, filename2)
    return ret


def syscall_nr(name: str) -> int:
    """The number of syscall `name` on this machine's architecture."""
    machine = platform.machine()
    try:
        return _SYSCALLS[machine][name]
    except KeyError:
        raise OSError(errno.ENOSYS, f"{name}: unsupported architecture {machine}") from None


def syscall(name: str, *args: object) -> int:
    """Call a raw syscall by name; integers are passed as C longs. Returns the raw result."""
    cargs = [ctypes.c_long(a) if isinstance(a, int) else a for a in args]
    return int(_syscall(ctypes.c_long(syscall_nr(name)), *cargs))


def fsencode(path: str | bytes | os.PathLike[str] | None) -> bytes | None:
    """A path as the bytes C wants (None stays NULL); refuses embedded NULs like `os` does."""
    if path is None:
        return None
    raw = os.fsencode(path)
    if b"\0" in raw:
        raise ValueError("embedded null byte")
    return raw
