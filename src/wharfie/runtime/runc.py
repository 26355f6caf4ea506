"""The runc executor: the shim drives `runc` on the same bundle the built-in executor runs.

`create` sets the container up to the start gate (runc's own), `start` releases it, `exec`
runs `runc exec` as the exec process itself. The shim is a child subreaper, so the container
process reparents to it when `runc create` exits and the shim reaps it like its own init.
runc keeps its state under its own root in our exec root, never Docker's.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
from typing import Any

RUNC = "runc"


def _base(root: str) -> list[str]:
    return [RUNC, "--root", root]


def _console_listener(state_dir: str, name: str) -> tuple[socket.socket, str]:
    path = os.path.join(state_dir, name)
    if os.path.exists(path):
        os.unlink(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dir_fd = os.open(state_dir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        sock.bind(f"/proc/self/fd/{dir_fd}/{name}")
    finally:
        os.close(dir_fd)
    sock.listen(1)
    sock.settimeout(30)
    # runc connects by path: hand it a short /proc path to the socket via our own fd table
    return sock, path


def _receive_master(listener: socket.socket) -> int | None:
    try:
        conn, _ = listener.accept()
    except (TimeoutError, OSError):
        return None
    with conn:
        _, fds, _, _ = socket.recv_fds(conn, 4096, 1)
    return fds[0] if fds else None


def create(root: str, state_dir: str, cid: str, stdio: tuple[int, int, int], tty: bool) -> tuple[int, int | None, str]:
    """`runc create`; returns (container pid, pty master or None, error text)."""
    pid_file = os.path.join(state_dir, "init.pid")
    log = os.path.join(state_dir, "runc.log")
    # runc's own errors go to its log: its stderr becomes the container's stderr.
    argv = [*_base(root), "--log", log, "create", "--bundle", state_dir, "--pid-file", pid_file]
    listener = None
    if tty:
        listener, path = _console_listener(state_dir, "console.sock")
        argv += ["--console-socket", path]
    argv.append(cid)
    proc = subprocess.Popen(argv, stdin=stdio[0], stdout=stdio[1], stderr=stdio[2], close_fds=True)
    master = _receive_master(listener) if listener is not None else None
    proc.wait()
    if listener is not None:
        listener.close()
    if proc.returncode != 0:
        try:
            with open(log, "rb") as fh:
                return 0, master, _runc_error(fh.read())
        except OSError:
            return 0, master, "runc create failed"
    with open(pid_file) as fh:
        return int(fh.read().strip()), master, ""


def start(root: str, cid: str) -> str:
    p = subprocess.run([*_base(root), "start", cid], capture_output=True)
    return _runc_error(p.stderr) if p.returncode != 0 else ""


def delete(root: str, cid: str) -> None:
    subprocess.run([*_base(root), "delete", "--force", cid], capture_output=True)


def exec_process(root: str, state_dir: str, cid: str, exec_id: str, process: dict[str, Any]) -> tuple[subprocess.Popen[bytes], int | None]:
    """Start `runc exec` (it lives as long as the process); returns it and its pty master."""
    spec_path = os.path.join(state_dir, f"process-{exec_id}.json")
    with open(spec_path, "w") as fh:
        json.dump(process, fh)
    argv = [*_base(root), "exec", "--process", spec_path]
    listener = None
    if process.get("terminal"):
        listener, path = _console_listener(state_dir, f"console-{exec_id[:12]}.sock")
        argv += ["--tty", "--console-socket", path]
        proc = subprocess.Popen([*argv, cid], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        master = _receive_master(listener)
        listener.close()
        return proc, master
    proc = subprocess.Popen([*argv, cid], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return proc, None


def _runc_error(stderr: bytes) -> str:
    """runc logs JSON-ish `level=error msg="…"` lines; keep the message."""
    text = stderr.decode(errors="replace").strip()
    for line in reversed(text.splitlines()):
        if 'msg="' in line:
            return line.split('msg="', 1)[1].rsplit('"', 1)[0].replace('\\"', '"')
    return text or "runc failed"
