"""wharfie.linux.caps and prctl: Docker's name and --cap-add/--cap-drop rules (pure), and
setting the sets of a real process (in forked children, as root)."""

from __future__ import annotations

import errno
import os
import socket
import subprocess
from pathlib import Path

import pytest
from support.kernel import errno_of, in_child

from wharfie.errors import InvalidArgument
from wharfie.linux import caps, mount, prctl

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
NOBODY = 65534




# -- tables and Docker's rules ------------------------------------------------------------------
def test_capability_table() -> None:
    assert caps.NUMBERS["CAP_CHOWN"] == 0
    assert caps.NUMBERS["CAP_SYS_ADMIN"] == 21
    assert caps.NUMBERS["CAP_CHECKPOINT_RESTORE"] == 40
    assert len(caps.NAMES) == 41
    with open("/proc/sys/kernel/cap_last_cap") as fh:
        assert caps.last_cap() == int(fh.read())
    assert caps.known() == list(caps.NAMES[: caps.last_cap() + 1])
    assert len(caps.DOCKER_DEFAULT_CAPS) == 14


def test_masks_round_trip() -> None:
    names = {"CAP_CHOWN", "CAP_NET_ADMIN", "CAP_CHECKPOINT_RESTORE"}
    assert caps.from_mask(caps.to_mask(names)) == names
    assert caps.from_mask(1 << 63) == {"CAP_63"}


@pytest.mark.parametrize("name", ["NET_BIND_SERVICE", "net_bind_service", "CAP_NET_BIND_SERVICE",
                                  "cap_net_bind_service"])
def test_normalize_accepts_docker_spellings(name: str) -> None:
    assert caps.normalize(name) == "CAP_NET_BIND_SERVICE"


def test_normalize_all_and_unknown() -> None:
    assert caps.normalize("all") == "ALL"
    with pytest.raises(InvalidArgument) as exc:
        caps.normalize("foo")
    assert str(exc.value) == 'unknown capability: "CAP_FOO"'


def test_normalize_refuses_caps_this_host_cannot_grant() -> None:
    missing = [c for c in caps.known() if c not in caps.available()]
    if not missing:
        pytest.skip("this process holds every capability")
    with pytest.raises(InvalidArgument, match="not available in the current environment"):
        caps.normalize(missing[0])


def test_tweak_caps_follows_docker_rules() -> None:
    base = list(caps.DOCKER_DEFAULT_CAPS)
    # nothing to tweak
    assert caps.tweak_caps(base, [], []) == base
    # drop wins over the default set; add appends
    got = caps.tweak_caps(base, ["NET_ADMIN"], ["chown", "MKNOD"])
    assert "CAP_CHOWN" not in got and "CAP_MKNOD" not in got
    assert got[-1] == "CAP_NET_ADMIN"
    # a cap both added and dropped is kept (drop filters the base, add comes after)
    assert "CAP_NET_ADMIN" in caps.tweak_caps(base, ["NET_ADMIN"], ["NET_ADMIN"])
    assert "CAP_CHOWN" in caps.tweak_caps(base, ["CHOWN"], ["CHOWN"])
    # adding a default does not duplicate it
    assert caps.tweak_caps(base, ["CHOWN"], []).count("CAP_CHOWN") == 1
    # ALL in add: everything available minus drop
    assert caps.tweak_caps(base, ["ALL"], ["NET_RAW"]) == [
        c for c in caps.available() if c != "CAP_NET_RAW"]
    # ALL in drop: exactly the adds
    assert caps.tweak_caps(base, ["NET_BIND_SERVICE"], ["ALL"]) == ["CAP_NET_BIND_SERVICE"]
    assert caps.tweak_caps(base, [], ["all"]) == []
    # privileged: everything available
    assert caps.tweak_caps(base, [], [], privileged=True) == caps.available()
    with pytest.raises(InvalidArgument):
        caps.tweak_caps(base, ["BOGUS"], [])


# -- the real process ---------------------------------------------------------------------------
def test_current_reads_all_five_sets() -> None:
    cur = caps.current()
    assert set(cur) == {"effective", "permitted", "inheritable", "bounding", "ambient"}
    assert cur["effective"] <= cur["permitted"]
    if os.geteuid() == 0:
        assert "CAP_SYS_ADMIN" in cur["effective"]


@root_only
def test_apply_as_root_limits_all_sets(tmp_path: Path) -> None:
    want = list(caps.DOCKER_DEFAULT_CAPS)
    target = tmp_path / "f"
    target.write_text("")

    def run() -> tuple[dict[str, set[str]], int, int]:
        caps.apply(want, want, want, [], [])
        chown_err = errno_of(lambda: os.chown(target, NOBODY, NOBODY))  # CAP_CHOWN kept
        mount_err = errno_of(lambda: mount.mount("tmpfs", str(tmp_path), "tmpfs"))
        return caps.current(), chown_err, mount_err

    cur, chown_err, mount_err = in_child(run)
    for key in ("effective", "permitted", "bounding"):
        assert cur[key] == set(want), key
    assert cur["inheritable"] == cur["ambient"] == set()
    assert chown_err == 0
    assert mount_err == errno.EPERM  # CAP_SYS_ADMIN is gone


@root_only
def test_keepcaps_setuid_then_apply_keeps_caps_for_a_non_root_user() -> None:
    """The runtime's sequence: bounding, keepcaps, setuid, apply; the ambient cap survives
    exec of an unprivileged program."""
    keep = ["CAP_NET_BIND_SERVICE"]

    def run() -> tuple[dict[str, set[str]], int, str, bool]:
        caps.drop_bounding(list(caps.DOCKER_DEFAULT_CAPS))
        caps.keep_caps(True)
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
        caps.keep_caps(False)
        caps.apply(caps.DOCKER_DEFAULT_CAPS, keep, keep, keep, keep)
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", 81))  # privileged port: needs the cap
            port = s.getsockname()[1]
        status = subprocess.run(["/bin/cat", "/proc/self/status"], capture_output=True,
                                text=True, check=True).stdout
        return caps.current(), port, status, prctl.get_keepcaps()

    cur, port, status, keepcaps = in_child(run)
    assert cur["effective"] == cur["permitted"] == cur["ambient"] == set(keep)
    assert cur["bounding"] == set(caps.DOCKER_DEFAULT_CAPS)
    assert port == 81 and not keepcaps
    fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
    assert fields["Uid"].split()[0] == str(NOBODY)
    assert caps.from_mask(int(fields["CapEff"], 16)) == set(keep)  # via ambient, after exec


@root_only
def test_setuid_without_keepcaps_loses_permitted_caps() -> None:
    def run() -> tuple[set[str], int]:
        os.setgroups([])
        os.setuid(NOBODY)
        try:
            caps.apply(caps.DOCKER_DEFAULT_CAPS, ["CAP_CHOWN"], ["CAP_CHOWN"], [], [])
        except OSError as exc:
            return caps.current()["permitted"], exc.errno or 0
        return caps.current()["permitted"], 0

    permitted, err = in_child(run)
    assert permitted == set()
    assert err == errno.EPERM


@root_only
def test_drop_bounding_is_idempotent_and_needs_no_repeat() -> None:
    def run() -> set[str]:
        caps.drop_bounding(["CAP_KILL"])
        caps.drop_bounding(["CAP_KILL"])  # nothing left to drop: no EPERM either
        return caps.current()["bounding"]

    assert in_child(run) == {"CAP_KILL"}


@root_only
def test_no_new_privs() -> None:
    def run() -> tuple[bool, bool, str]:
        before = prctl.get_no_new_privs()
        caps.set_no_new_privs()
        with open("/proc/self/status") as fh:
            line = next(line for line in fh if line.startswith("NoNewPrivs:"))
        return before, prctl.get_no_new_privs(), line.split()[1]

    assert in_child(run) == (False, True, "1")


def test_prctl_set_name() -> None:
    def run() -> str:
        prctl.set_name("wharfie-init-long-name")
        with open("/proc/self/comm") as fh:
            return fh.read().strip()

    assert in_child(run) == "wharfie-init-lo"  # the kernel keeps 15 bytes
