"""openat2(2): open a path with kernel-enforced resolution rules (Linux >= 5.6).

CPython 3.11 has no wrapper, so this calls the raw syscall through ctypes.
`RESOLVE_IN_ROOT` makes the kernel resolve `..`, absolute paths and symlinks as if
`dirfd` were `/` — the primitive that keeps archive extraction inside its root even
when the archive plants symlinks.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform

RESOLVE_NO_XDEV = 0x01
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08
RESOLVE_IN_ROOT = 0x10

# openat2 arrived after the syscall tables were unified, so it is 437 everywhere.
_SYSCALL_NR = {"x86_64": 437, "aarch64": 437, "arm64": 437, "riscv64": 437, "ppc64le": 437}
# The kernel answers EAGAIN when a concurrent rename may have raced a `..` walk.
_EAGAIN_RETRIES = 32


class _OpenHow(ctypes.Structure):
    _fields_ = [
        ("flags", ctypes.c_uint64),
        ("mode", ctypes.c_uint64),
        ("resolve", ctypes.c_uint64),
    ]


_libc = ctypes.CDLL(None, use_errno=True)
_syscall = _libc.syscall
_syscall.restype = ctypes.c_long


def _nr() -> int:
    machine = platform.machine()
    try:
        return _SYSCALL_NR[machine]
    except KeyError:
        raise OSError(errno.ENOSYS, f"openat2: unsupported architecture {machine}") from None


def openat2(dirfd: int, path: str | bytes, flags: int, mode: int = 0, resolve: int = 0) -> int:
    """Open `path` relative to `dirfd`; return the new fd or raise OSError."""
    raw = os.fsencode(path)
    if b"\0" in raw:
        raise ValueError("openat2: embedded null byte")
    how = _OpenHow(flags | os.O_CLOEXEC, mode, resolve)
    nr = _nr()
    for _ in range(_EAGAIN_RETRIES):
        fd = _syscall(
            ctypes.c_long(nr),
            ctypes.c_int(dirfd),
            ctypes.c_char_p(raw),
            ctypes.byref(how),
            ctypes.c_size_t(ctypes.sizeof(how)),
        )
        if fd >= 0:
            return int(fd)
        err = ctypes.get_errno()
        if err not in (errno.EAGAIN, errno.EINTR):
            raise OSError(err, os.strerror(err), os.fsdecode(raw))
    raise OSError(errno.EAGAIN, os.strerror(errno.EAGAIN), os.fsdecode(raw))
