"""Named network namespaces: a bind-mounted nsfs file per sandbox under `exec-root/netns/`.

A sandbox namespace is created by a *worker thread* (network namespaces are per-thread, so
`unshare(CLONE_NEWNET)` in one thread leaves the daemon's other threads where they are), pinned
by bind-mounting `/proc/thread-self/ns/net` onto a file, and the thread then returns to the
daemon's namespace. The container joins it by path (`linux.namespaces[].path`), and because
the bind mount — not a process — keeps it alive, it survives daemon restarts and is released
only by `remove()`. `inside()` runs a function with the calling thread in a namespace; sockets
(netlink, the DNS resolver's) opened there stay bound to it after the thread leaves.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from wharfie.linux import mount, ns


def _host_fd() -> int:
    # The daemon's own namespace: that of its main thread (threads may be elsewhere).
    return os.open(f"/proc/{os.getpid()}/ns/net", os.O_RDONLY | os.O_CLOEXEC)


@contextmanager
def inside(path: str) -> Iterator[None]:
    """Run the block with this thread in the network namespace pinned at `path`."""
    home = _host_fd()
    target = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        ns.setns(target, ns.CLONE_NEWNET)
        try:
            yield
        finally:
            ns.setns(home, ns.CLONE_NEWNET)
    finally:
        os.close(target)
        os.close(home)


def create(path: str) -> None:
    """A new, empty network namespace (only `lo`, down) pinned at `path`. One left there (a
    crash during a start) is unpinned first: its interfaces and addresses are never reused."""
    if os.path.lexists(path):
        remove(path)
    os.makedirs(os.path.dirname(path), mode=0o711, exist_ok=True)
    with open(path, "w"):
        pass
    home = _host_fd()
    try:
        ns.unshare(ns.CLONE_NEWNET)
        try:
            mount.mount(f"/proc/self/task/{threading.get_native_id()}/ns/net", path, None, mount.MS_BIND)
        finally:
            ns.setns(home, ns.CLONE_NEWNET)
    except BaseException:
        try:
            os.unlink(path)
        except OSError:
            pass
        raise
    finally:
        os.close(home)


def exists(path: str) -> bool:
    """Whether `path` is a pinned namespace (an nsfs mount, not a leftover empty file)."""
    try:  # an nsfs file lives on its own (anonymous) device, unlike the dir holding it
        return os.stat(path).st_dev != os.stat(os.path.dirname(path)).st_dev
    except OSError:
        return False


def remove(path: str) -> None:
    """Unpin the namespace (it dies with its last user) and delete the file."""
    try:
        mount.umount(path, mount.MNT_DETACH)
    except OSError:
        pass
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
