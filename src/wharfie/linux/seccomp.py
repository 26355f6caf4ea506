"""seccomp filters through libseccomp (ctypes), Docker's default profile, and profile formats.

Three shapes of a profile meet here:
- Docker's JSON (`--security-opt seccomp=profile.json`, and the built-in default): rules may
  carry `includes`/`excludes` conditions on capabilities, architecture and kernel version;
- the OCI `linux.seccomp` object in config.json: the same rules with conditions resolved;
- `Profile`, our model of the latter, which `load()` compiles into a filter for the
  current process.

The daemon turns Docker's JSON into a Profile with `from_docker_json(data, caps)` (caps = the
container's bounding set) and writes `profile.to_oci()` into the bundle; the container init
reads it back with `from_oci()` and calls `load()`.

Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: load it before dropping caps.
Syscall names this libseccomp cannot resolve are skipped, as Docker does; such syscalls get
the default action (EPERM for Docker's profile) rather than ENOSYS.
"""

from __future__ import annotations

import ctypes
import errno as errno_mod
import json
import platform
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from wharfie.errors import InvalidArgument

ALLOW = "SCMP_ACT_ALLOW"
ERRNO = "SCMP_ACT_ERRNO"
KILL = "SCMP_ACT_KILL"  # kills the thread
KILL_THREAD = "SCMP_ACT_KILL_THREAD"
KILL_PROCESS = "SCMP_ACT_KILL_PROCESS"
TRAP = "SCMP_ACT_TRAP"
TRACE = "SCMP_ACT_TRACE"
LOG = "SCMP_ACT_LOG"
NOTIFY = "SCMP_ACT_NOTIFY"

UNCONFINED = "unconfined"

# libseccomp's action encodings (seccomp.h); ERRNO and TRACE carry 16 bits of data.
_ACTIONS = {
    KILL: 0x00000000, KILL_THREAD: 0x00000000, KILL_PROCESS: 0x80000000, TRAP: 0x00030000,
    ERRNO: 0x00050000, TRACE: 0x7FF00000, LOG: 0x7FFC0000, ALLOW: 0x7FFF0000,
}
_OPS = {"SCMP_CMP_NE": 1, "SCMP_CMP_LT": 2, "SCMP_CMP_LE": 3, "SCMP_CMP_EQ": 4,
        "SCMP_CMP_GE": 5, "SCMP_CMP_GT": 6, "SCMP_CMP_MASKED_EQ": 7}
# seccomp(2) flags from the OCI spec -> libseccomp filter attribute (scmp_filter_attr).
_FLAG_ATTRS = {"SECCOMP_FILTER_FLAG_TSYNC": 4, "SECCOMP_FILTER_FLAG_LOG": 6,
               "SECCOMP_FILTER_FLAG_SPEC_ALLOW": 7}
_ATTR_CTL_NNP = 3
_NR_SCMP_ERROR = -1
_MAX_ARGS = 6

# platform.machine() -> Docker's architecture names (used in includes/excludes "arches")
# and the SCMP_ARCH_* of the native architecture (its archMap key).
_DOCKER_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64",
                "i386": "x86", "i686": "x86", "armv7l": "arm", "armv6l": "arm",
                "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64",
                "loongarch64": "loongarch64", "mips64": "mips64"}
_NATIVE_SCMP = {"amd64": "SCMP_ARCH_X86_64", "arm64": "SCMP_ARCH_AARCH64", "x86": "SCMP_ARCH_X86",
                "arm": "SCMP_ARCH_ARM", "ppc64le": "SCMP_ARCH_PPC64LE", "s390x": "SCMP_ARCH_S390X",
                "riscv64": "SCMP_ARCH_RISCV64", "loongarch64": "SCMP_ARCH_LOONGARCH64",
                "mips64": "SCMP_ARCH_MIPS64"}


@dataclass(frozen=True)
class Arg:
    """A comparison on syscall argument `index`. For MASKED_EQ, `value` is the mask and
    `value_two` what the masked argument must equal (the OCI/Docker convention)."""

    index: int
    op: str
    value: int
    value_two: int = 0


@dataclass(frozen=True)
class Rule:
    names: tuple[str, ...]
    action: str
    args: tuple[Arg, ...] = ()
    errno: int | None = None  # for ERRNO/TRACE; None means EPERM


@dataclass
class Profile:
    default_action: str
    syscalls: list[Rule] = field(default_factory=list)
    default_errno: int | None = None
    architectures: list[str] = field(default_factory=list)  # SCMP_ARCH_*; empty = native
    flags: list[str] = field(default_factory=list)

    def to_oci(self) -> dict[str, Any]:
        """The OCI config.json `linux.seccomp` object."""
        out: dict[str, Any] = {"defaultAction": self.default_action}
        if self.default_errno is not None:
            out["defaultErrnoRet"] = self.default_errno
        if self.architectures:
            out["architectures"] = list(self.architectures)
        if self.flags:
            out["flags"] = list(self.flags)
        out["syscalls"] = [_rule_to_oci(r) for r in self.syscalls]
        return out


def _rule_to_oci(rule: Rule) -> dict[str, Any]:
    out: dict[str, Any] = {"names": list(rule.names), "action": rule.action}
    if rule.errno is not None:
        out["errnoRet"] = rule.errno
    if rule.args:
        out["args"] = [{"index": a.index, "value": a.value, "valueTwo": a.value_two, "op": a.op}
                       for a in rule.args]
    return out


# -- reading profiles --------------------------------------------------------------------------
def _check_action(action: Any) -> str:
    if action == NOTIFY:
        raise InvalidArgument("seccomp action SCMP_ACT_NOTIFY is not supported")
    if action not in _ACTIONS:
        raise InvalidArgument(f"unknown seccomp action {action!r}")
    return str(action)


def _arg_from(raw: Mapping[str, Any]) -> Arg:
    op = raw.get("op")
    if op not in _OPS:
        raise InvalidArgument(f"unknown seccomp comparison operator {op!r}")
    index = int(raw.get("index", 0))
    if not 0 <= index < _MAX_ARGS:
        raise InvalidArgument(f"seccomp argument index {index} out of range")
    return Arg(index, str(op), int(raw.get("value", 0)), int(raw.get("valueTwo", 0)))


def _rule_from(raw: Mapping[str, Any]) -> Rule:
    names = raw.get("names") or ([raw["name"]] if raw.get("name") else [])
    if raw.get("name") and raw.get("names"):
        raise InvalidArgument("both 'name' and 'names' are specified in the seccomp profile")
    if not names:
        raise InvalidArgument("a seccomp rule needs at least one syscall name")
    errno = raw.get("errnoRet")
    return Rule(tuple(names), _check_action(raw.get("action")),
                tuple(_arg_from(a) for a in raw.get("args") or ()),
                int(errno) if errno is not None else None)


def from_oci(spec: Mapping[str, Any]) -> Profile:
    """A Profile from an OCI `linux.seccomp` object (conditions already resolved)."""
    default_errno = spec.get("defaultErrnoRet")
    return Profile(
        default_action=_check_action(spec.get("defaultAction")),
        syscalls=[_rule_from(r) for r in spec.get("syscalls") or ()],
        default_errno=int(default_errno) if default_errno is not None else None,
        architectures=list(spec.get("architectures") or ()),
        flags=list(spec.get("flags") or ()),
    )


def host_arch() -> str:
    """This machine in Docker's profile vocabulary ("amd64", "arm64", ...)."""
    machine = platform.machine()
    return _DOCKER_ARCH.get(machine, machine)


def kernel_version() -> tuple[int, int]:
    parts = platform.release().split("-")[0].split(".")
    return int(parts[0]), int(parts[1]) if len(parts) > 1 else 0


def _parse_kernel(text: str) -> tuple[int, int]:
    major, _, minor = str(text).partition(".")
    try:
        return int(major), int(minor or 0)
    except ValueError:
        raise InvalidArgument(f'invalid kernel version: {text}, expected "<kernel>.<major>"') from None


def _applies(raw: Mapping[str, Any], caps: set[str], arch: str, kernel: tuple[int, int]) -> bool:
    """Docker's includes (all must hold) / excludes (any one drops the rule)."""
    exc = raw.get("excludes") or {}
    if arch in (exc.get("arches") or ()) or caps & set(exc.get("caps") or ()):
        return False
    if exc.get("minKernel") and kernel >= _parse_kernel(exc["minKernel"]):
        return False
    inc = raw.get("includes") or {}
    if inc.get("arches") and arch not in inc["arches"]:
        return False
    if not set(inc.get("caps") or ()) <= caps:
        return False
    return not (inc.get("minKernel") and kernel < _parse_kernel(inc["minKernel"]))


def from_docker_json(data: str | bytes | Mapping[str, Any], caps: Iterable[str] = (),
                     arch: str | None = None,
                     kernel: tuple[int, int] | None = None) -> Profile | None:
    """A Profile from Docker's seccomp JSON for a container whose bounding set is `caps`.

    Returns None (no filter) for a profile with neither a default action nor rules, which
    Docker treats as seccomp disabled.
    """
    if isinstance(data, str | bytes):
        try:
            data = json.loads(data)
        except ValueError as exc:
            raise InvalidArgument(f"Decoding seccomp profile failed: {exc}") from None
    if not isinstance(data, Mapping):
        raise InvalidArgument("Decoding seccomp profile failed: not a JSON object")
    if not data.get("defaultAction") and not data.get("syscalls"):
        return None
    if data.get("architectures") and data.get("archMap"):
        raise InvalidArgument("both 'architectures' and 'archMap' are specified in the seccomp "
                              "profile, use either 'architectures' or 'archMap'")
    arch = arch or host_arch()
    kernel = kernel or kernel_version()
    cap_set = set(caps)
    profile = from_oci({k: v for k, v in data.items() if k != "syscalls"})
    for entry in data.get("archMap") or ():
        if entry.get("architecture") == _NATIVE_SCMP.get(arch):
            profile.architectures += [entry["architecture"], *(entry.get("subArchitectures") or ())]
    profile.syscalls = [_rule_from(r) for r in data.get("syscalls") or ()
                        if _applies(r, cap_set, arch, kernel)]
    return profile


def from_security_opt(value: str, caps: Iterable[str]) -> Profile | None:
    """`--security-opt seccomp=<value>`: "unconfined" -> None, "builtin"/"" -> Docker's
    default, anything else is the profile's JSON text (the docker CLI sends the file's content)."""
    if value == UNCONFINED:
        return None
    if value in ("", "builtin"):
        return docker_default_profile(caps)
    return from_docker_json(value, caps)


# -- loading -----------------------------------------------------------------------------------
class _ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("datum_a", ctypes.c_uint64),
                ("datum_b", ctypes.c_uint64)]


_lib: ctypes.CDLL | None = None


def preload() -> None:
    """Load libseccomp now: a container process must do so before pivot_root or setns into the
    container's mount namespace, where the host's library is no longer visible."""
    _libseccomp()


def _libseccomp() -> ctypes.CDLL:
    global _lib
    if _lib is None:
        try:
            lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
        except OSError as exc:
            raise OSError(errno_mod.ENOSYS, f"libseccomp.so.2 is not installed: {exc}") from None
        lib.seccomp_init.argtypes = [ctypes.c_uint32]
        lib.seccomp_init.restype = ctypes.c_void_p
        lib.seccomp_release.argtypes = [ctypes.c_void_p]
        lib.seccomp_release.restype = None
        lib.seccomp_attr_set.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32]
        lib.seccomp_arch_resolve_name.argtypes = [ctypes.c_char_p]
        lib.seccomp_arch_resolve_name.restype = ctypes.c_uint32
        lib.seccomp_arch_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
        lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
        lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int,
                                               ctypes.c_uint, ctypes.POINTER(_ArgCmp)]
        lib.seccomp_load.argtypes = [ctypes.c_void_p]
        _lib = lib
    return _lib


def _rc(rc: int, what: str) -> None:
    """libseccomp returns -errno on failure."""
    if rc < 0:
        raise OSError(-rc, f"seccomp: {what}: {errno_mod.errorcode.get(-rc, -rc)}")


def resolve(name: str) -> int | None:
    """The native syscall number of `name` (negative for a pseudo-syscall that only exists on
    another architecture of the filter), or None if libseccomp does not know it."""
    nr = int(_libseccomp().seccomp_syscall_resolve_name(name.encode()))
    return None if nr == _NR_SCMP_ERROR else nr


def _action_value(action: str, errno: int | None) -> int:
    value = _ACTIONS[_check_action(action)]
    if action in (ERRNO, TRACE):
        value |= (errno_mod.EPERM if errno is None else errno) & 0xFFFF
    return value


def _cmp_groups(args: tuple[Arg, ...]) -> list[tuple[Arg, ...]]:
    """libseccomp ANDs the comparisons of one rule but refuses two on the same argument; like
    runc, such comparisons become one rule each (ORed)."""
    indexes = [a.index for a in args]
    if len(set(indexes)) == len(indexes):
        return [args]
    return [(a,) for a in args]


def _add_rule(ctx: int, action: int, nr: int, args: tuple[Arg, ...], name: str) -> None:
    lib = _libseccomp()
    for group in _cmp_groups(args):
        arr = (_ArgCmp * max(len(group), 1))(
            *[_ArgCmp(a.index, _OPS[a.op], a.value, a.value_two) for a in group])
        _rc(lib.seccomp_rule_add_array(ctx, action, nr, len(group), arr), f"rule for {name}")


def _add_arches(ctx: int, arches: Iterable[str]) -> None:
    lib = _libseccomp()
    for arch in arches:
        token = lib.seccomp_arch_resolve_name(arch.removeprefix("SCMP_ARCH_").lower().encode())
        if token == 0:
            raise InvalidArgument(f"unknown seccomp architecture {arch!r}")
        rc = lib.seccomp_arch_add(ctx, token)
        if rc != -errno_mod.EEXIST:
            _rc(rc, f"add architecture {arch}")


def load(profile: Profile) -> None:
    """Compile `profile` and install it on the calling thread (and its future children)."""
    lib = _libseccomp()
    default = _action_value(profile.default_action, profile.default_errno)
    ctx = lib.seccomp_init(default)
    if not ctx:
        raise OSError(errno_mod.EINVAL, "seccomp_init failed")
    try:
        _rc(lib.seccomp_attr_set(ctx, _ATTR_CTL_NNP, 0), "clear no_new_privs attribute")
        for flag in profile.flags:
            if flag in _FLAG_ATTRS:
                _rc(lib.seccomp_attr_set(ctx, _FLAG_ATTRS[flag], 1), flag)
        _add_arches(ctx, profile.architectures)
        for rule in profile.syscalls:
            action = _action_value(rule.action, rule.errno)
            if action == default:
                continue  # libseccomp rejects rules that repeat the default action
            for name in rule.names:
                nr = resolve(name)
                if nr is not None:
                    _add_rule(ctx, action, nr, rule.args, name)
        _rc(lib.seccomp_load(ctx), "load")
    finally:
        lib.seccomp_release(ctx)


# -- Docker's default profile ------------------------------------------------------------------
# Re-derived from moby's profiles/seccomp/default.json: an allowlist with EPERM as the default,
# plus rules that depend on the container's capabilities, the architecture and the kernel.
_BASE_ALLOW = """
    accept accept4 access adjtimex alarm bind brk cachestat capget capset chdir chmod chown
    chown32 clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime
    clock_gettime64 clock_nanosleep clock_nanosleep_time64 close close_range connect
    copy_file_range creat dup dup2 dup3 epoll_create epoll_create1 epoll_ctl epoll_ctl_old
    epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old eventfd eventfd2 execve execveat exit
    exit_group faccessat faccessat2 fadvise64 fadvise64_64 fallocate fanotify_mark fchdir
    fchmod fchmodat fchmodat2 fchown fchown32 fchownat fcntl fcntl64 fdatasync fgetxattr
    flistxattr flock fork fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64
    fsync ftruncate ftruncate64 futex futex_requeue futex_time64 futex_wait futex_waitv
    futex_wake futimesat getcpu getcwd getdents getdents64 getegid getegid32 geteuid
    geteuid32 getgid getgid32 getgroups getgroups32 getitimer getpeername getpgid getpgrp
    getpid getppid getpriority getrandom getresgid getresgid32 getresuid getresuid32
    getrlimit get_robust_list getrusage getsid getsockname getsockopt get_thread_area gettid
    gettimeofday getuid getuid32 getxattr getxattrat inotify_add_watch inotify_init
    inotify_init1 inotify_rm_watch io_cancel ioctl io_destroy io_getevents io_pgetevents
    io_pgetevents_time64 ioprio_get ioprio_set io_setup io_submit ipc kill landlock_add_rule
    landlock_create_ruleset landlock_restrict_self lchown lchown32 lgetxattr link linkat
    listen listmount listxattr listxattrat llistxattr _llseek lremovexattr lseek lsetxattr
    lstat lstat64 madvise map_shadow_stack membarrier memfd_create memfd_secret mincore
    mkdir mkdirat mknod mknodat mlock mlock2 mlockall mmap mmap2 mprotect mq_getsetattr
    mq_notify mq_open mq_timedreceive mq_timedreceive_time64 mq_timedsend
    mq_timedsend_time64 mq_unlink mremap mseal msgctl msgget msgrcv msgsnd msync munlock
    munlockall munmap name_to_handle_at nanosleep newfstatat _newselect open openat openat2
    pause pidfd_open pidfd_send_signal pipe pipe2 pkey_alloc pkey_free pkey_mprotect poll
    ppoll ppoll_time64 prctl pread64 preadv preadv2 prlimit64 process_mrelease pselect6
    pselect6_time64 pwrite64 pwritev pwritev2 read readahead readlink readlinkat readv recv
    recvfrom recvmmsg recvmmsg_time64 recvmsg remap_file_pages removexattr removexattrat
    rename renameat renameat2 restart_syscall riscv_hwprobe rmdir rseq rt_sigaction
    rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait
    rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_getaffinity sched_getattr sched_getparam
    sched_get_priority_max sched_get_priority_min sched_getscheduler sched_rr_get_interval
    sched_rr_get_interval_time64 sched_setaffinity sched_setattr sched_setparam
    sched_setscheduler sched_yield seccomp select semctl semget semop semtimedop
    semtimedop_time64 send sendfile sendfile64 sendmmsg sendmsg sendto setfsgid setfsgid32
    setfsuid setfsuid32 setgid setgid32 setgroups setgroups32 setitimer setpgid setpriority
    setregid setregid32 setresgid setresgid32 setresuid setresuid32 setreuid setreuid32
    setrlimit set_robust_list setsid setsockopt set_thread_area set_tid_address setuid
    setuid32 setxattr setxattrat shmat shmctl shmdt shmget shutdown sigaltstack signalfd
    signalfd4 sigprocmask sigreturn socketcall socketpair splice stat stat64 statfs statfs64
    statmount statx symlink symlinkat sync sync_file_range syncfs sysinfo tee tgkill time
    timer_create timer_delete timer_getoverrun timer_gettime timer_gettime64 timer_settime
    timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime
    timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask uname unlink unlinkat
    uretprobe utime utimensat utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid
    write writev
"""

_CLONE_NS_FLAGS = 0x7E020000  # CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET
_PERSONALITIES = (0x0, 0x8, 0x20000, 0x20008, 0xFFFFFFFF)  # LINUX, LINUX32, UNAME26, both, query
_AF_ALG, _AF_VSOCK = 38, 40


@dataclass(frozen=True)
class _Group:
    names: str
    args: tuple[tuple[int, str, int, int], ...] = ()
    action: str = ALLOW
    errno: int | None = None
    caps: tuple[str, ...] = ()
    not_caps: tuple[str, ...] = ()
    arches: tuple[str, ...] = ()
    not_arches: tuple[str, ...] = ()
    min_kernel: str | None = None

    def to_docker(self) -> dict[str, Any]:
        out: dict[str, Any] = {"names": self.names.split(), "action": self.action}
        if self.errno is not None:
            out["errnoRet"] = self.errno
        if self.args:
            out["args"] = [{"index": i, "op": "SCMP_CMP_" + op, "value": v, "valueTwo": v2}
                           for i, op, v, v2 in self.args]
        inc = {k: v for k, v in (("caps", list(self.caps)), ("arches", list(self.arches)),
                                 ("minKernel", self.min_kernel)) if v}
        exc = {k: v for k, v in (("caps", list(self.not_caps)),
                                 ("arches", list(self.not_arches))) if v}
        if inc:
            out["includes"] = inc
        if exc:
            out["excludes"] = exc
        return out


_DEFAULT_GROUPS: tuple[_Group, ...] = (
    _Group(_BASE_ALLOW),
    _Group("process_vm_readv process_vm_writev ptrace", min_kernel="4.8"),
    # every socket family but AF_ALG (38) and AF_VSOCK (40)
    _Group("socket", args=((0, "LT", _AF_ALG, 0),)),
    _Group("socket", args=((0, "EQ", _AF_ALG + 1, 0),)),
    _Group("socket", args=((0, "GT", _AF_VSOCK, 0),)),
    *(_Group("personality", args=((0, "EQ", p, 0),)) for p in _PERSONALITIES),
    _Group("sync_file_range2 swapcontext", arches=("ppc64le",)),
    _Group("arm_fadvise64_64 arm_sync_file_range sync_file_range2 breakpoint cacheflush set_tls",
           arches=("arm", "arm64")),
    _Group("arch_prctl", arches=("amd64", "x32")),
    _Group("modify_ldt", arches=("amd64", "x32", "x86")),
    _Group("s390_pci_mmio_read s390_pci_mmio_write s390_runtime_instr",
           arches=("s390", "s390x")),
    _Group("riscv_flush_icache", arches=("riscv64",)),
    _Group("open_by_handle_at", caps=("CAP_DAC_READ_SEARCH",)),
    _Group("bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie "
           "lsm_get_self_attr lsm_list_modules lsm_set_self_attr mount mount_setattr "
           "move_mount open_tree perf_event_open quotactl quotactl_fd setdomainname "
           "sethostname setns syslog umount umount2 unshare", caps=("CAP_SYS_ADMIN",)),
    # without CAP_SYS_ADMIN: clone only without namespace flags (s390 swaps the arguments)
    _Group("clone", args=((0, "MASKED_EQ", _CLONE_NS_FLAGS, 0),), not_caps=("CAP_SYS_ADMIN",),
           not_arches=("s390", "s390x")),
    _Group("clone", args=((1, "MASKED_EQ", _CLONE_NS_FLAGS, 0),), not_caps=("CAP_SYS_ADMIN",),
           arches=("s390", "s390x")),
    # clone3's flags are behind a pointer: answer ENOSYS so libc falls back to clone
    _Group("clone3", action=ERRNO, errno=errno_mod.ENOSYS, not_caps=("CAP_SYS_ADMIN",)),
    _Group("reboot", caps=("CAP_SYS_BOOT",)),
    _Group("chroot", caps=("CAP_SYS_CHROOT",)),
    _Group("delete_module init_module finit_module", caps=("CAP_SYS_MODULE",)),
    _Group("acct", caps=("CAP_SYS_PACCT",)),
    _Group("kcmp pidfd_getfd process_madvise process_vm_readv process_vm_writev ptrace",
           caps=("CAP_SYS_PTRACE",)),
    _Group("iopl ioperm", caps=("CAP_SYS_RAWIO",)),
    _Group("settimeofday stime clock_settime clock_settime64", caps=("CAP_SYS_TIME",)),
    _Group("vhangup", caps=("CAP_SYS_TTY_CONFIG",)),
    _Group("get_mempolicy mbind set_mempolicy set_mempolicy_home_node", caps=("CAP_SYS_NICE",)),
    _Group("syslog", caps=("CAP_SYSLOG",)),
    _Group("bpf", caps=("CAP_BPF",)),
    _Group("perf_event_open", caps=("CAP_PERFMON",)),
)

_ARCH_MAP = (
    ("SCMP_ARCH_X86_64", ("SCMP_ARCH_X86", "SCMP_ARCH_X32")),
    ("SCMP_ARCH_AARCH64", ("SCMP_ARCH_ARM",)),
    ("SCMP_ARCH_MIPS64", ("SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64N32")),
    ("SCMP_ARCH_MIPS64N32", ("SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64")),
    ("SCMP_ARCH_MIPSEL64", ("SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64N32")),
    ("SCMP_ARCH_MIPSEL64N32", ("SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64")),
    ("SCMP_ARCH_S390X", ("SCMP_ARCH_S390",)),
    ("SCMP_ARCH_RISCV64", ()),
    ("SCMP_ARCH_LOONGARCH64", ()),
)


def docker_default_json() -> dict[str, Any]:
    """Docker's default profile in Docker's JSON format (conditions unresolved)."""
    return {
        "defaultAction": ERRNO,
        "defaultErrnoRet": errno_mod.EPERM,
        "archMap": [{"architecture": a, "subArchitectures": list(subs)} for a, subs in _ARCH_MAP],
        "syscalls": [g.to_docker() for g in _DEFAULT_GROUPS],
    }


def docker_default_profile(caps: Iterable[str], arch: str | None = None,
                           kernel: tuple[int, int] | None = None) -> Profile:
    """Docker's default profile for a container whose bounding set is `caps`."""
    profile = from_docker_json(docker_default_json(), caps, arch, kernel)
    assert profile is not None
    return profile
