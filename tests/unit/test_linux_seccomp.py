"""wharfie.linux.seccomp: profile building (pure) and filters loaded into forked children."""

from __future__ import annotations

import ctypes
import errno
import json
import os
import platform
import signal
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest
from support.kernel import errno_of, in_child

from wharfie.errors import InvalidArgument
from wharfie.linux import caps, mount, ns, seccomp
from wharfie.linux.libc import libc, syscall

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (CAP_SYS_ADMIN to load)")
DEFAULT_CAPS = set(caps.DOCKER_DEFAULT_CAPS)
AF_VSOCK = 40
SYS_CLONE3 = 435
PER_LINUX, ADDR_NO_RANDOMIZE = 0x0, 0x0040000




def raw(name: str, *args: Any) -> int:
    """A raw syscall's errno (0 on success)."""
    ret = syscall(name, *args)
    return ctypes.get_errno() if ret < 0 else 0


def allowed_names(profile: seccomp.Profile, action: str = seccomp.ALLOW) -> set[str]:
    return {n for r in profile.syscalls if r.action == action for n in r.names}


# -- building profiles ---------------------------------------------------------------------------
def test_default_profile_shape() -> None:
    data = seccomp.docker_default_json()
    assert data["defaultAction"] == seccomp.ERRNO and data["defaultErrnoRet"] == errno.EPERM
    p = seccomp.docker_default_profile(DEFAULT_CAPS, arch="amd64", kernel=(6, 1))
    assert p.architectures == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    names = allowed_names(p)
    assert {"read", "execve", "fork", "arch_prctl", "modify_ldt", "ptrace", "chroot"} <= names
    assert not {"mount", "unshare", "setns", "keyctl", "acct", "reboot", "bpf"} & names
    assert not {"arm_fadvise64_64", "s390_runtime_instr"} & names
    clone = [r for r in p.syscalls if r.names == ("clone",)]
    assert clone == [seccomp.Rule(("clone",), seccomp.ALLOW,
                                  (seccomp.Arg(0, "SCMP_CMP_MASKED_EQ", 0x7E020000, 0),))]
    clone3 = [r for r in p.syscalls if r.names == ("clone3",)]
    assert clone3 == [seccomp.Rule(("clone3",), seccomp.ERRNO, (), errno.ENOSYS)]
    socket_ops = {(a.op, a.value) for r in p.syscalls if r.names == ("socket",) for a in r.args}
    assert socket_ops == {("SCMP_CMP_LT", 38), ("SCMP_CMP_EQ", 39), ("SCMP_CMP_GT", 40)}


def test_default_profile_follows_capabilities_arch_and_kernel() -> None:
    admin = seccomp.docker_default_profile(DEFAULT_CAPS | {"CAP_SYS_ADMIN"}, arch="amd64")
    names = allowed_names(admin)
    assert {"mount", "unshare", "setns", "clone", "clone3", "sethostname"} <= names
    assert not [r for r in admin.syscalls if r.names == ("clone",) and r.args]
    assert not [r for r in admin.syscalls if r.action == seccomp.ERRNO]

    ptrace = allowed_names(seccomp.docker_default_profile({"CAP_SYS_PTRACE"}, kernel=(4, 4)))
    assert {"ptrace", "kcmp", "pidfd_getfd"} <= ptrace
    assert "ptrace" not in allowed_names(seccomp.docker_default_profile(set(), kernel=(4, 4)))
    assert "ptrace" in allowed_names(seccomp.docker_default_profile(set(), kernel=(4, 8)))

    arm = seccomp.docker_default_profile(DEFAULT_CAPS, arch="arm64")
    assert arm.architectures == ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]
    assert "arm_fadvise64_64" in allowed_names(arm) and "arch_prctl" not in allowed_names(arm)

    for cap, call in (("CAP_SYS_TIME", "settimeofday"), ("CAP_SYS_MODULE", "init_module"),
                      ("CAP_SYS_BOOT", "reboot"), ("CAP_SYS_PACCT", "acct"),
                      ("CAP_SYSLOG", "syslog"), ("CAP_BPF", "bpf"),
                      ("CAP_DAC_READ_SEARCH", "open_by_handle_at")):
        assert call not in allowed_names(seccomp.docker_default_profile(DEFAULT_CAPS))
        assert call in allowed_names(seccomp.docker_default_profile(DEFAULT_CAPS | {cap}))


def test_oci_round_trip() -> None:
    p = seccomp.docker_default_profile(DEFAULT_CAPS)
    oci = p.to_oci()
    assert json.loads(json.dumps(oci)) == oci
    assert seccomp.from_oci(oci) == p


def test_from_docker_json_variants() -> None:
    legacy = {"defaultAction": "SCMP_ACT_ALLOW",
              "syscalls": [{"name": "getcwd", "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}
    p = seccomp.from_docker_json(json.dumps(legacy))
    assert p is not None and p.syscalls == [seccomp.Rule(("getcwd",), seccomp.ERRNO, (), 13)]
    assert seccomp.from_docker_json("{}") is None  # Docker: seccomp disabled
    with pytest.raises(InvalidArgument, match="both 'name' and 'names'"):
        seccomp.from_docker_json({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"name": "a", "names": ["b"], "action": "SCMP_ACT_ERRNO"}]})
    with pytest.raises(InvalidArgument, match="Decoding seccomp profile failed"):
        seccomp.from_docker_json("{not json")
    with pytest.raises(InvalidArgument, match="unknown seccomp action"):
        seccomp.from_docker_json({"defaultAction": "SCMP_ACT_BOGUS"})
    with pytest.raises(InvalidArgument, match="NOTIFY is not supported"):
        seccomp.from_oci({"defaultAction": "SCMP_ACT_NOTIFY"})
    with pytest.raises(InvalidArgument, match="archMap"):
        seccomp.from_docker_json({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["x"],
                                  "archMap": [{"architecture": "y"}]})


def test_from_security_opt() -> None:
    assert seccomp.from_security_opt("unconfined", DEFAULT_CAPS) is None
    assert seccomp.from_security_opt("builtin", DEFAULT_CAPS) == \
        seccomp.docker_default_profile(DEFAULT_CAPS)
    custom = seccomp.from_security_opt('{"defaultAction": "SCMP_ACT_LOG"}', DEFAULT_CAPS)
    assert custom is not None and custom.default_action == seccomp.LOG


def test_resolve() -> None:
    getpid = seccomp.resolve("getpid")
    assert getpid is not None and getpid >= 0
    if platform.machine() == "x86_64":
        assert getpid == 39
        chown32 = seccomp.resolve("chown32")  # i386-only: a negative pseudo-syscall number
        assert chown32 is not None and chown32 < 0
    assert seccomp.resolve("no_such_syscall") is None


# -- loading filters -----------------------------------------------------------------------------
@root_only
def test_default_profile_blocks_and_allows_like_docker(tmp_path: Path) -> None:
    def run() -> dict[str, int]:
        seccomp.load(seccomp.docker_default_profile(DEFAULT_CAPS))
        f = tmp_path / "file"
        f.write_text("data")
        pid = os.fork()
        if pid == 0:
            os.execv("/bin/true", ["/bin/true"])
        _, status = os.waitpid(pid, 0)
        vsock = errno_of(lambda: socket.socket(AF_VSOCK, socket.SOCK_STREAM).close())
        return {
            "unshare_user": errno_of(lambda: ns.unshare(ns.CLONE_NEWUSER)),
            "unshare_uts": errno_of(lambda: ns.unshare(ns.CLONE_NEWUTS)),
            "mount": errno_of(lambda: mount.mount("tmpfs", str(tmp_path), "tmpfs")),
            "keyctl": raw("keyctl", 0, 0),
            "acct": raw("acct", None),  # no rule at all: the default action
            "clone3": raw_nr(SYS_CLONE3),
            "vsock": vsock,
            "personality_query": personality(0xFFFFFFFF),
            "personality_other": personality(ADDR_NO_RANDOMIZE),
            "getpid_ok": int(os.getpid() > 0),
            "read_ok": int(f.read_text() == "data"),
            "fork_exec_status": status,
            "subprocess_rc": subprocess.run(["/bin/true"]).returncode,
            "tcp_ok": int(socket.socket().fileno() > 0),
        }

    got = in_child(run)
    assert got["unshare_user"] == errno.EPERM
    assert got["unshare_uts"] == errno.EPERM
    assert got["mount"] == errno.EPERM
    assert got["keyctl"] == errno.EPERM
    assert got["acct"] == errno.EPERM
    assert got["clone3"] == errno.ENOSYS  # so libc falls back to clone
    assert got["vsock"] == errno.EPERM
    assert got["personality_query"] == 0
    assert got["personality_other"] == errno.EPERM
    assert got["getpid_ok"] and got["read_ok"] and got["tcp_ok"]
    assert got["fork_exec_status"] == 0 and got["subprocess_rc"] == 0


def raw_nr(nr: int) -> int:
    ret = libc.syscall(ctypes.c_long(nr), ctypes.c_long(0), ctypes.c_long(0))
    return ctypes.get_errno() if ret < 0 else 0


def personality(persona: int) -> int:
    ret = libc.personality(ctypes.c_ulong(persona))
    return ctypes.get_errno() if ret == -1 else 0


@root_only
def test_sys_admin_profile_allows_namespaces() -> None:
    def run() -> tuple[int, int]:
        seccomp.load(seccomp.docker_default_profile(DEFAULT_CAPS | {"CAP_SYS_ADMIN"}))
        return errno_of(lambda: ns.unshare(ns.CLONE_NEWUTS)), raw("acct", None)

    assert in_child(run) == (0, errno.EPERM)


@root_only
def test_custom_profile_errno_and_same_argument_conditions() -> None:
    profile = seccomp.from_oci({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EACCES},
            # two conditions on argument 0 become two ORed rules: block fd 1000 and 1001
            {"names": ["close"], "action": "SCMP_ACT_ERRNO",
             "args": [{"index": 0, "value": 1000, "op": "SCMP_CMP_EQ"},
                      {"index": 0, "value": 1001, "op": "SCMP_CMP_EQ"}]},
            {"names": ["no_such_syscall_anywhere"], "action": "SCMP_ACT_KILL"},
        ],
    })

    def run() -> tuple[int, int, int, int]:
        seccomp.load(profile)
        return (errno_of(os.getcwd), errno_of(lambda: os.close(1000)),
                errno_of(lambda: os.close(1001)), errno_of(lambda: os.close(1002)))

    assert in_child(run) == (errno.EACCES, errno.EPERM, errno.EPERM, errno.EBADF)


@root_only
def test_kill_action_kills_the_process() -> None:
    profile = seccomp.Profile(seccomp.ALLOW, [seccomp.Rule(("getppid",), seccomp.KILL_PROCESS)])
    pid = os.fork()
    if pid == 0:
        try:
            seccomp.load(profile)
            os.getppid()
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGSYS


@root_only
def test_filter_survives_exec(tmp_path: Path) -> None:
    profile = seccomp.Profile(seccomp.ALLOW, [seccomp.Rule(("mkdir", "mkdirat"), seccomp.ERRNO,
                                                           errno=errno.EROFS)])

    def run() -> tuple[int, str]:
        seccomp.load(profile)
        proc = subprocess.run(["/bin/mkdir", str(tmp_path / "d")], capture_output=True, text=True)
        return proc.returncode, proc.stderr

    rc, stderr = in_child(run)
    assert rc != 0 and "Read-only file system" in stderr
