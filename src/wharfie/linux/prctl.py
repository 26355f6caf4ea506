"""prctl(2) options the container init needs (caps.py builds on the capability ones)."""

from __future__ import annotations

import ctypes

from wharfie.linux.libc import check, libc

PR_SET_PDEATHSIG = 1
PR_GET_DUMPABLE = 3
PR_SET_DUMPABLE = 4
PR_GET_KEEPCAPS = 7
PR_SET_KEEPCAPS = 8
PR_SET_NAME = 15
PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
PR_GET_NO_NEW_PRIVS = 39
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_IS_SET = 1
PR_CAP_AMBIENT_RAISE = 2
PR_CAP_AMBIENT_LOWER = 3
PR_CAP_AMBIENT_CLEAR_ALL = 4

# prctl is variadic; pass every argument as an unsigned long so the registers are defined.
libc.prctl.argtypes = [ctypes.c_int] + [ctypes.c_ulong] * 4
libc.prctl.restype = ctypes.c_int


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    return check(libc.prctl(option, arg2, arg3, arg4, arg5))


def set_pdeathsig(sig: int) -> None:
    """Have the kernel send `sig` to us when our parent *thread* exits."""
    prctl(PR_SET_PDEATHSIG, sig)


def set_keepcaps(on: bool) -> None:
    prctl(PR_SET_KEEPCAPS, int(on))


def get_keepcaps() -> bool:
    return bool(prctl(PR_GET_KEEPCAPS))


def set_no_new_privs() -> None:
    """Irreversibly forbid gaining privileges through execve (setuid bits, file caps)."""
    prctl(PR_SET_NO_NEW_PRIVS, 1)


def get_no_new_privs() -> bool:
    return bool(prctl(PR_GET_NO_NEW_PRIVS))


def set_child_subreaper(on: bool = True) -> None:
    """Orphaned descendants get re-parented to us instead of PID 1 (the shim wants this)."""
    prctl(PR_SET_CHILD_SUBREAPER, int(on))


def set_name(name: str) -> None:
    """The thread's comm name (15 bytes, truncated by the kernel)."""
    buf = ctypes.create_string_buffer(name.encode()[:15])
    check(libc.prctl(PR_SET_NAME, ctypes.addressof(buf), 0, 0, 0))


def set_dumpable(on: bool) -> None:
    prctl(PR_SET_DUMPABLE, int(on))


def capbset_read(cap: int) -> bool:
    return bool(prctl(PR_CAPBSET_READ, cap))


def capbset_drop(cap: int) -> None:
    prctl(PR_CAPBSET_DROP, cap)


def ambient_clear_all() -> None:
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)


def ambient_raise(cap: int) -> None:
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap)


def ambient_is_set(cap: int) -> bool:
    return bool(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap))
