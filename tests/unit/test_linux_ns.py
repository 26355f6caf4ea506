"""wharfie.linux.ns against the real kernel (root). Every namespace change happens in a
forked child, so the test process itself never moves."""

from __future__ import annotations

import errno
import os
import signal
import socket
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from support.kernel import in_child

from wharfie.linux import ns

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")



@contextmanager
def holder(flags: int, hostname: str | None = None) -> Iterator[int]:
    """A child that unshares `flags` (optionally sets a hostname) and waits until we're done."""
    ready_r, ready_w = os.pipe()
    done_r, done_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(ready_r)
            os.close(done_w)
            signal.alarm(30)
            ns.unshare(flags)
            if hostname:
                ns.sethostname(hostname)
            os.write(ready_w, b"1")
            os.read(done_r, 1)
        finally:
            os._exit(0)
    os.close(ready_w)
    os.close(done_r)
    try:
        assert os.read(ready_r, 1) == b"1", "holder failed to set up its namespaces"
        yield pid
    finally:
        os.close(done_w)
        os.close(ready_r)
        os.waitpid(pid, 0)


def ns_id(pid: int | str, kind: str) -> str:
    return os.readlink(f"/proc/{pid}/ns/{kind}")


def test_unshare_uts_gives_a_private_hostname() -> None:
    def child() -> tuple[str, str]:
        ns.unshare(ns.CLONE_NEWUTS)
        ns.sethostname("wharfie-test-host")
        ns.setdomainname("wharfie.test")
        with open("/proc/sys/kernel/domainname") as fh:
            return os.uname().nodename, fh.read().strip()

    host_before = socket.gethostname()
    assert in_child(child) == ("wharfie-test-host", "wharfie.test")
    assert socket.gethostname() == host_before


def test_pid_namespace_first_child_is_pid_1() -> None:
    def child() -> int:
        ns.unshare(ns.CLONE_NEWPID)
        pid = os.fork()
        if pid == 0:
            os._exit(os.getpid())
        _, status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(status)

    assert in_child(child) == 1


def test_join_namespaces_enters_uts_net_ipc_of_another_process() -> None:
    flags = ns.CLONE_NEWUTS | ns.CLONE_NEWNET | ns.CLONE_NEWIPC
    with holder(flags, hostname="joined-host") as pid:
        want = {k: ns_id(pid, k) for k in ("uts", "net", "ipc")}

        def child() -> tuple[str, dict[str, str]]:
            # mnt is shared with the holder: it must be skipped, not fail.
            ns.join_namespaces(pid, ["uts", "net", "ipc", "mnt"])
            return os.uname().nodename, {k: ns_id("self", k) for k in want}

        hostname, got = in_child(child)
    assert hostname == "joined-host"
    assert got == want


def test_join_namespaces_enters_a_user_namespace_and_its_children() -> None:
    # The holder's UTS and mount namespaces belong to its new user namespace.
    flags = ns.CLONE_NEWUSER | ns.CLONE_NEWUTS | ns.CLONE_NEWNS
    with holder(flags) as pid:
        want = {k: ns_id(pid, k) for k in ("user", "uts", "mnt")}

        def child() -> dict[str, str]:
            ns.join_namespaces(pid, ["mnt", "uts", "user"])  # order given is irrelevant
            return {k: ns_id("self", k) for k in want}

        assert in_child(child) == want


def test_joining_own_namespaces_is_a_no_op() -> None:
    def child() -> str:
        # setns into one's own user namespace would be EINVAL without the skip.
        ns.join_namespaces(os.getppid(), ["user", "mnt", "net", "uts", "ipc", "cgroup"])
        return ns_id("self", "user")

    assert in_child(child) == ns_id("self", "user")


def test_setns_checks_the_namespace_type() -> None:
    def child() -> int:
        fd = ns.open_ns("self", "net")
        try:
            ns.setns(fd, ns.CLONE_NEWUTS)
        except OSError as exc:
            return exc.errno or 0
        finally:
            os.close(fd)
        return 0

    assert in_child(child) == errno.EINVAL


def test_open_ns_rejects_unknown_kinds() -> None:
    with pytest.raises(ValueError):
        ns.open_ns("self", "bogus")
    with pytest.raises(ValueError):
        ns.join_namespaces(os.getpid(), ["network"])
