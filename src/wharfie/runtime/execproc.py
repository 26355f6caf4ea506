"""`docker exec` inside the shim: fork a process into a running container's namespaces.

The shim already lives with its children in the container's PID namespace, so a forked child
only has to join the init's other namespaces (setns also moves its root and cwd to the
container's), join the cgroup, then take on the exec's user, capabilities and seccomp filter
exactly as the init did, and exec.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from typing import Any

from wharfie.runtime import init

JOIN_ORDER = ("ipc", "uts", "net", "cgroup", "mnt")  # mnt last: it changes our root


@dataclass
class Spawned:
    pid: int
    tty: bool
    out_fds: dict[int, str] = field(default_factory=dict)
    stdin_fd: int | None = None
    master: int | None = None
    error: str = ""


def spawn(init_pid: int, process: dict[str, Any], spec: dict[str, Any], attach: bool, cgroup: Any,
          with_stdin: bool = True) -> Spawned:
    tty = bool(process.get("terminal"))
    ns_fds = _open_namespaces(init_pid)
    go_r, go_w = os.pipe()
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    console = console_child = None
    stdio: tuple[int, int, int] = (0, 1, 2)
    mine: dict[str, int] = {}
    if tty:  # the pty is made inside the container, as for the init
        console, console_child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    else:
        stdio, mine = _pipes(with_stdin)
    pid = os.fork()
    if pid == 0:
        os.close(go_w)
        os.close(err_r)
        _child(ns_fds, process, spec, stdio, console_child.fileno() if console_child else None, go_r, err_w)
    os.close(go_r)
    os.close(err_w)
    for fd in ns_fds.values():
        os.close(fd)
    if console_child is not None:
        console_child.close()
    for fd in set(stdio) - set(mine.values()) if not tty else ():
        os.close(fd)
    if cgroup is not None:
        try:
            cgroup.add(pid)
        except OSError:
            pass
    os.write(go_w, b"G")
    os.close(go_w)
    master = None
    if console is not None:
        from wharfie.runtime.shim import receive_console

        master = receive_console(console)
        if master is not None:
            mine = {"stdout": master, "stdin": os.dup(master)}  # stdin gets its own registration
    err = b""
    while chunk := os.read(err_r, 4096):
        err += chunk
    os.close(err_r)
    out_fds = {mine["stdout"]: "stdout"} if "stdout" in mine else {}
    if "stderr" in mine:
        out_fds[mine["stderr"]] = "stderr"
    result = Spawned(pid, tty, out_fds, mine.get("stdin"), master, err.decode(errors="replace"))
    if result.error:
        os.waitpid(pid, 0)
        for fd in set(out_fds) | ({result.stdin_fd} if result.stdin_fd is not None else set()):
            os.close(fd)
    return result


def _open_namespaces(pid: int) -> dict[str, int]:
    fds = {}
    for kind in JOIN_ORDER:
        try:
            fds[kind] = os.open(f"/proc/{pid}/ns/{kind}", os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            continue
    return fds


def _pipes(with_stdin: bool) -> tuple[tuple[int, int, int], dict[str, int]]:
    """Like Docker: an exec without an attached stdin reads /dev/null (not a pipe nobody
    writes, which would leak an fd in the shim and block `cat` forever)."""
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    if not with_stdin:
        return (os.open(os.devnull, os.O_RDONLY), out_w, err_w), {"stdout": out_r, "stderr": err_r}
    in_r, in_w = os.pipe()
    return (in_r, out_w, err_w), {"stdout": out_r, "stderr": err_r, "stdin": in_w}


def _child(ns_fds: dict[str, int], process: dict[str, Any], spec: dict[str, Any],
           stdio: tuple[int, int, int], console_fd: int | None, go_r: int, err_w: int) -> None:
    from wharfie.linux import ns

    try:
        init.reset_signals()
        init.harden_child()
        if os.read(go_r, 1) != b"G":
            os._exit(1)
        os.close(go_r)
        os.setsid()
        if console_fd is None:
            init.setup_stdio(stdio)
        if spec["linux"].get("seccomp"):
            from wharfie.linux import seccomp

            seccomp.preload()  # before setns(mnt) hides the host's library
        for kind in JOIN_ORDER:
            if kind in ns_fds:
                ns.setns(ns_fds[kind], 0)
        if console_fd is not None:
            init.setup_console(console_fd)
        init.close_other_fds({err_w})
        init.become(process, spec["linux"].get("seccomp"))
        init.exec_process(process)
    except init.InitError as e:
        init._report(err_w, str(e), 127)
    except BaseException as e:  # noqa: BLE001
        init._report(err_w, f"exec failed: {type(e).__name__}: {e}", 126)
