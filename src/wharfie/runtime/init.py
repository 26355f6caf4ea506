"""The container side of the built-in executor: turn a forked child into the container.

Runs in the child the shim forks (already PID 1 of a new PID namespace), applies the OCI
`config.json` and execs the process. Order matters and follows runc:
namespaces → mounts inside the new root → /dev → pivot_root → masked/read-only paths →
hostname/sysctl → bounding set → (seccomp if no no_new_privs) → user → capabilities →
no_new_privs + seccomp → exec. Any failure is written to `err_fd` (close-on-exec, so a
successful exec closes it empty) and the child exits.
"""

from __future__ import annotations

import errno
import fcntl
import os
import resource
import socket
import stat
import sys
import termios
from typing import Any

from wharfie.linux import caps, mount, ns, seccomp
from wharfie.linux.openat2 import RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS, openat2

NS_FLAGS = {"mount": ns.CLONE_NEWNS, "uts": ns.CLONE_NEWUTS, "ipc": ns.CLONE_NEWIPC,
            "network": ns.CLONE_NEWNET, "cgroup": ns.CLONE_NEWCGROUP}
NS_KINDS = {"mount": "mnt", "uts": "uts", "ipc": "ipc", "network": "net", "cgroup": "cgroup"}


class InitError(Exception):
    """A failure before exec, reported to the shim as the start error."""


def enter_namespaces(spec: dict[str, Any]) -> None:
    """Join namespaces that name a path, create the others (pid was made by the shim)."""
    flags = 0
    for n in spec["linux"].get("namespaces", []):
        kind = n["type"]
        if kind in ("pid", "user"):
            continue
        if n.get("path"):
            fd = os.open(n["path"], os.O_RDONLY | os.O_CLOEXEC)
            try:
                ns.setns(fd, NS_FLAGS[kind])
            finally:
                os.close(fd)
        else:
            flags |= NS_FLAGS[kind]
    if flags:
        ns.unshare(flags)
    if flags & ns.CLONE_NEWNET:
        bring_up_loopback()


def bring_up_loopback() -> None:
    import fcntl
    import socket
    import struct

    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16sh22x", b"lo", 0)
        flags = struct.unpack("16sh22x", fcntl.ioctl(s, siocgifflags, req))[1]
        fcntl.ioctl(s, siocsifflags, struct.pack("16sh22x", b"lo", flags | iff_up))


# -- filesystem -----------------------------------------------------------------------------
def scoped_path(root_fd: int, path: str, *, file: bool = False, create: bool = True) -> int:
    """O_PATH fd of `path` resolved inside the root (symlinks can't leave it), made if missing."""
    rel = path.strip("/") or "."
    try:
        return openat2(root_fd, rel, os.O_PATH | os.O_CLOEXEC, 0, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)
    except FileNotFoundError:
        if not create:
            raise
    parent, _, name = rel.rpartition("/")
    pfd = mkdir_p(root_fd, parent)
    try:
        if file:
            os.close(os.open(name, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644, dir_fd=pfd))
        else:
            try:
                os.mkdir(name, 0o755, dir_fd=pfd)
            except FileExistsError:
                pass
    finally:
        os.close(pfd)
    return openat2(root_fd, rel, os.O_PATH | os.O_CLOEXEC, 0, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)


def mkdir_p(root_fd: int, rel: str) -> int:
    fd = os.dup(root_fd)
    for part in [p for p in rel.split("/") if p and p != "."]:
        try:
            nfd = openat2(fd, part, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC, 0,
                          RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)
        except FileNotFoundError:
            try:
                os.mkdir(part, 0o755, dir_fd=fd)
            except FileExistsError:
                pass
            nfd = openat2(fd, part, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC, 0,
                          RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)
        os.close(fd)
        fd = nfd
    return fd


def fd_path(fd: int) -> str:
    return f"/proc/self/fd/{fd}"


def setup_rootfs(spec: dict[str, Any]) -> None:
    root = spec["root"]["path"]
    mount.mount("", "/", "", mount.MS_SLAVE | mount.MS_REC)
    mount.mount(root, root, "", mount.MS_BIND | mount.MS_REC)
    root_fd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for m in spec.get("mounts", []):
            mount_one(root_fd, m, spec["linux"].get("cgroupsPath", "").strip("/"))
        make_devices(root_fd, spec)
    finally:
        os.close(root_fd)
    os.chdir(root)
    mount.pivot_root(".", ".")
    mount.umount(".", mount.MNT_DETACH)
    os.chdir("/")


def mount_one(root_fd: int, m: dict[str, Any], cgroups_path: str = "") -> None:
    kind, source, dest = m.get("type", "none"), m.get("source", ""), m["destination"]
    flags, data = mount.parse_mount_options(list(m.get("options", [])))
    is_bind = bool(flags & mount.MS_BIND) or kind == "bind"
    if is_bind:
        flags |= mount.MS_BIND
        src_is_file = not stat.S_ISDIR(os.stat(source).st_mode)
        target = scoped_path(root_fd, dest, file=src_is_file)
    elif kind == "cgroup":
        mount_cgroup(root_fd, dest, flags, cgroups_path)
        return
    else:
        target = scoped_path(root_fd, dest)
    try:
        tpath = fd_path(target)
        if is_bind:
            # bind() applies ro/nosuid/… and the propagation in `flags` to the new mount itself
            # (a /proc/self/fd path still names the directory underneath, not the mount).
            mount.bind(source, tpath, readonly=bool(flags & mount.MS_RDONLY),
                       recursive=bool(flags & mount.MS_REC), extra_flags=flags)
        else:
            mount.mount(source or kind, tpath, kind, flags & ~mount.PROPAGATION_FLAGS, data)
    finally:
        os.close(target)


def mount_cgroup(root_fd: int, dest: str, flags: int, cgroups_path: str) -> None:
    """cgroup v2: a cgroup2 mount. v1: a tmpfs with each controller's *own container cgroup*
    bound read-only at /sys/fs/cgroup/<controller> (like runc), so limits read from inside."""
    target = scoped_path(root_fd, dest)
    try:
        tpath = fd_path(target)
        if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
            mount.mount("cgroup2", tpath, "cgroup2", flags & ~mount.PROPAGATION_FLAGS)
            return
        mount.mount("tmpfs", tpath, "tmpfs", mount.MS_NOSUID | mount.MS_NODEV | mount.MS_NOEXEC, "mode=755")
    finally:
        os.close(target)
    for name in sorted(os.listdir("/sys/fs/cgroup")):
        host = os.path.join("/sys/fs/cgroup", name)
        if not os.path.isdir(host) or os.path.islink(host) or not os.path.ismount(host):
            continue
        own = os.path.join(host, cgroups_path) if cgroups_path else host
        if os.path.isdir(own):
            host = own
        sub = scoped_path(root_fd, f"{dest}/{name}")
        try:
            mount.bind(host, fd_path(sub), readonly=True, recursive=False)
        except OSError:
            pass  # a controller we can't bind is not worth failing the container for
        finally:
            os.close(sub)
    if flags & mount.MS_RDONLY:
        t = scoped_path(root_fd, dest)
        try:
            mount.mount("", fd_path(t), "", mount.MS_REMOUNT | mount.MS_RDONLY | mount.MS_NOSUID
                        | mount.MS_NODEV | mount.MS_NOEXEC)
        finally:
            os.close(t)


def make_devices(root_fd: int, spec: dict[str, Any]) -> None:
    dev_fd = scoped_path(root_fd, "/dev")
    try:
        dfd = os.open(fd_path(dev_fd), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    finally:
        os.close(dev_fd)
    try:
        old = os.umask(0)
        try:
            for d in spec["linux"].get("devices", []):
                name = d["path"][len("/dev/"):]
                if "/" in name:
                    continue
                kind = stat.S_IFCHR if d.get("type", "c") == "c" else stat.S_IFBLK
                try:
                    os.mknod(name, kind | d.get("fileMode", 0o666), os.makedev(d["major"], d["minor"]), dir_fd=dfd)
                except FileExistsError:
                    pass
                os.chown(name, d.get("uid", 0), d.get("gid", 0), dir_fd=dfd, follow_symlinks=False)
        finally:
            os.umask(old)
        for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                             ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2"),
                             ("ptmx", "pts/ptmx"), ("core", "/proc/kcore")):
            try:
                os.symlink(target, name, dir_fd=dfd)
            except FileExistsError:
                pass
    finally:
        os.close(dfd)


def mask_paths(spec: dict[str, Any]) -> None:
    linux = spec["linux"]
    for path in linux.get("maskedPaths", []):
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                mount.mount("tmpfs", path, "tmpfs", mount.MS_RDONLY, "size=0k")
            else:
                mount.mount("/dev/null", path, "", mount.MS_BIND)
        except FileNotFoundError:
            pass
    for path in linux.get("readonlyPaths", []):
        try:
            mount.bind(path, path, readonly=True, recursive=True)
        except FileNotFoundError:
            pass


def write_sysctls(spec: dict[str, Any]) -> None:
    """Before /proc/sys becomes read-only (runc's order)."""
    for key, value in (spec["linux"].get("sysctl") or {}).items():
        with open("/proc/sys/" + key.replace(".", "/"), "w") as fh:
            fh.write(value)


def finish_rootfs(spec: dict[str, Any]) -> None:
    if spec["root"].get("readonly"):
        mount.remount_readonly("/")


# -- identity and exec ----------------------------------------------------------------------
def apply_rlimits(process: dict[str, Any]) -> None:
    """`--ulimit`: set while still root (lowering always works; raising above the current
    hard limit needs CAP_SYS_RESOURCE, which this host may not give us)."""
    for rl in process.get("rlimits") or []:
        which = getattr(resource, str(rl["type"]), None)
        if which is None:
            raise InitError(f"unknown rlimit {rl['type']}")
        try:
            resource.setrlimit(which, (int(rl["soft"]), int(rl["hard"])))
        except (ValueError, OSError) as e:
            raise InitError(f"error setting rlimit {rl['type']}: {e}") from None


def become(process: dict[str, Any], seccomp_spec: dict[str, Any] | None) -> None:
    apply_rlimits(process)
    c = process.get("capabilities") or {}
    caps.drop_bounding(c.get("bounding", []))
    profile = seccomp.from_oci(seccomp_spec) if seccomp_spec else None
    nnp = bool(process.get("noNewPrivileges"))
    if profile is not None and not nnp:
        seccomp.load(profile)  # needs CAP_SYS_ADMIN without no_new_privs: load while we have it
    user = process.get("user") or {}
    caps.keep_caps(True)
    os.setgroups(list(user.get("additionalGids") or []))
    os.setgid(int(user.get("gid", 0)))
    os.setuid(int(user.get("uid", 0)))
    caps.keep_caps(False)
    caps.apply(c.get("bounding", []), c.get("effective", []), c.get("permitted", []),
               c.get("inheritable", []), c.get("ambient", []))
    if nnp:
        caps.set_no_new_privs()
        if profile is not None:
            seccomp.load(profile)


def exec_process(process: dict[str, Any]) -> None:
    args = list(process["args"])
    env = dict(e.split("=", 1) if "=" in e else (e, "") for e in process.get("env", []))
    cwd = process.get("cwd") or "/"
    try:
        os.chdir(cwd)
    except OSError as e:
        raise InitError(f"chdir to cwd (\"{cwd}\") set in config.json failed: {(e.strerror or str(e)).lower()}") from e
    try:
        if "/" in args[0]:
            os.execve(args[0], args, env)
        os.execvpe(args[0], args, env)
    except FileNotFoundError:
        if "/" in args[0]:
            raise InitError(f'exec: "{args[0]}": stat {args[0]}: no such file or directory') from None
        raise InitError(f'exec: "{args[0]}": executable file not found in $PATH') from None
    except PermissionError:
        raise InitError(f'exec: "{args[0]}": permission denied') from None
    except OSError as e:
        if e.errno == errno.EISDIR:
            raise InitError(f'exec: "{args[0]}": is a directory') from None
        raise InitError(f'exec: "{args[0]}": {(e.strerror or str(e)).lower()}') from None


def harden_child() -> None:
    """From here on this process turns into the container: it must not be ptrace-able or
    /proc/<pid>/exe-reachable as a copy of the host's Python (CVE-2019-5736 class), and a
    lazy import after pivot_root/setns must never load code from the container's files."""
    from wharfie.linux import prctl

    prctl.set_dumpable(False)
    sys.path.clear()


def reset_signals() -> None:
    """Default dispositions for the container: ignored signals survive exec (a shell can't even
    trap a signal it inherited as ignored), and Python itself ignores SIGPIPE."""
    import signal

    signal.set_wakeup_fd(-1)
    for sig in signal.valid_signals():
        if sig not in (signal.SIGKILL, signal.SIGSTOP):
            try:
                signal.signal(sig, signal.SIG_DFL)
            except (OSError, ValueError):
                pass
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


def setup_stdio(stdio: tuple[int, int, int]) -> None:
    for target, fd in enumerate(stdio):
        if fd != target:
            os.dup2(fd, target)


def setup_console(console_fd: int) -> None:
    """Make the pty here (inside the container's /dev/pts), hand the master to the shim, and
    take the slave as controlling terminal and stdio."""
    master, slave = os.openpty()
    with socket.socket(fileno=os.dup(console_fd)) as sock:
        socket.send_fds(sock, [b"m"], [master])
    os.close(master)
    os.close(console_fd)
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    for target in (0, 1, 2):
        os.dup2(slave, target)
    if slave > 2:
        os.close(slave)


def close_other_fds(keep: set[int]) -> None:
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2 and fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass


def run(spec: dict[str, Any], stdio: tuple[int, int, int], console_fd: int | None, go_fd: int,
        err_fd: int) -> None:
    """Never returns: becomes the container process, or exits after reporting an error."""
    try:
        reset_signals()
        harden_child()
        if os.read(go_fd, 1) != b"G":
            os._exit(1)  # the shim aborted the start
        os.close(go_fd)
        process = spec["process"]
        if spec["linux"].get("seccomp"):
            seccomp.preload()  # the host's libseccomp is out of reach after pivot_root
        os.setsid()
        if console_fd is None:
            setup_stdio(stdio)
        enter_namespaces(spec)
        if spec.get("hostname"):
            ns.sethostname(spec["hostname"])
        setup_rootfs(spec)
        write_sysctls(spec)
        mask_paths(spec)
        finish_rootfs(spec)
        if console_fd is not None:
            setup_console(console_fd)
        close_other_fds({err_fd})
        become(process, spec["linux"].get("seccomp"))
        exec_process(process)
    except InitError as e:
        _report(err_fd, str(e), 127 if "not found" in str(e) or "no such file" in str(e) else 126)
    except BaseException as e:  # noqa: BLE001 - everything must reach the shim
        _report(err_fd, f"error during container init: {type(e).__name__}: {e}", 128)


def _report(err_fd: int, message: str, code: int) -> None:
    try:
        os.write(err_fd, message.encode()[:4000])
    finally:
        sys.stderr.flush()
        os._exit(code)
