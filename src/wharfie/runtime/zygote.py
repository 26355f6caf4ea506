"""A warm parent for shims: `python -I -S -m wharfie.runtime.zygote SOCKET`.

Starting a Python interpreter and importing the runtime costs tens of milliseconds and several
MB per container. The daemon (which never forks) spawns one zygote; the zygote imports the shim
and the container-side runtime once, freezes its heap, and forks a shim per request. Shims then
start instantly and share the zygote's pages copy-on-write, which keeps an idle container's
PSS small. Protocol: connect, send `STATE_DIR\\n`; the shim answers on that same connection with
its report line (see `wharfie.runtime.shim`). The zygote exits when the daemon does (parent-death
signal); shims, in their own sessions, live on.
"""

from __future__ import annotations

import gc
import os
import signal
import socket
import sys


def _warm_up() -> None:
    """Import everything a shim and a container process need before anything forks."""
    import json  # noqa: F401
    import selectors  # noqa: F401

    from wharfie.linux import caps, cgroups, mount, ns, prctl, seccomp  # noqa: F401
    from wharfie.runtime import execproc, init, logfile, shim  # noqa: F401

    try:
        seccomp.preload()
    except OSError:
        pass  # no libseccomp: containers that ask for a filter will report it


def _serve_one(listener: socket.socket) -> None:
    conn, _ = listener.accept()
    line = b""
    while not line.endswith(b"\n"):
        chunk = conn.recv(4096)
        if not chunk:
            conn.close()
            return
        line += chunk
    state_dir = line.strip().decode()
    if os.fork() == 0:  # the new shim
        try:
            listener.close()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the shim reaps its own children
            from wharfie.linux import prctl

            prctl.set_pdeathsig(0)
            prctl.set_name("wharfie-shim")  # what ps/top show (the cmdline stays the zygote's)
            os.setsid()
            log = os.open(os.path.join(state_dir, "shim.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            null = os.open(os.devnull, os.O_RDWR)
            os.dup2(null, 0)
            os.dup2(null, 1)
            os.dup2(log, 2)
            os.close(log)
            os.close(null)
            from wharfie.runtime import shim

            rc = shim.main([state_dir, str(conn.fileno())])
        except BaseException:  # noqa: BLE001 - a shim must never return into the zygote loop
            import traceback

            traceback.print_exc()
            rc = 1
        os._exit(rc)
    conn.close()


def main(argv: list[str]) -> int:
    path = argv[0]
    from wharfie.linux import prctl

    prctl.set_pdeathsig(signal.SIGKILL)  # die with the daemon; shims are not affected
    if os.getppid() == 1:
        return 1  # the daemon is already gone
    _warm_up()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # forked shims need no reaping by us
    for sig in (signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    if os.path.exists(path):
        os.unlink(path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        listener.bind(path)
    finally:
        os.umask(old)
    listener.listen(64)
    gc.collect()
    gc.freeze()  # keep the warm heap's pages shared with every shim
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    while True:
        _serve_one(listener)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
