"""wharfie.linux.cgroups against the real hierarchies (root), plus the v1/v2 file translations
on a fake tree. Real cgroups live under wharfie-test/<random> and are removed afterwards."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from wharfie.linux import cgroups
from wharfie.linux.cgroups import Cgroup, Hierarchies

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
MiB = 1 << 20
PARENT = "wharfie-test"


def _cleanup(cg: Cgroup) -> None:
    try:
        if cg.exists():
            cg.kill_all(signal.SIGKILL)
            cg.remove()
    finally:
        for d in cg.dirs():
            try:
                os.rmdir(os.path.dirname(d))  # wharfie-test/, if no other test uses it
            except OSError:
                pass


@pytest.fixture
def cg() -> Iterator[Cgroup]:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    group = Cgroup.create(f"{PARENT}/{uuid.uuid4().hex[:12]}")
    try:
        yield group
    finally:
        _cleanup(group)


def start_in(group: Cgroup, code: str) -> subprocess.Popen[bytes]:
    """A Python child that waits on stdin until it has been moved into `group`."""
    proc = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.readline()\n" + code],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    group.add(proc.pid)
    assert proc.stdin is not None
    proc.stdin.write(b"go\n")
    proc.stdin.flush()
    return proc


def control(group: Cgroup, controller: str, name: str) -> str:
    d = group.dir(controller)
    assert d is not None, f"{controller} is not mounted"
    with open(os.path.join(d, name)) as fh:
        return fh.read().strip()


def test_mode_matches_the_mounts() -> None:
    want = "v2" if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else None
    got = cgroups.mode()
    assert got in ("v1", "v2", "hybrid")
    if want:
        assert got == want
    if got != "v2":
        assert {"memory", "pids", "freezer", "cpu"} <= set(cgroups.detect().v1)


def test_paths_are_validated() -> None:
    for bad in ("", "/", "a/../b", "a//b", "./x"):
        with pytest.raises(ValueError):
            Cgroup(bad, Hierarchies("v1", {}))
    assert Cgroup("/docker/abc/", Hierarchies("v1", {})).path == "docker/abc"


# -- real cgroups --------------------------------------------------------------------------------
def test_create_makes_every_hierarchy_and_cpuset_is_usable(cg: Cgroup) -> None:
    assert all(os.path.isdir(d) for d in cg.dirs())
    if not cg.v2:
        assert control(cg, "cpuset", "cpuset.cpus")  # copied from the parent, not empty
        assert control(cg, "cpuset", "cpuset.mems")
    proc = start_in(cg, "print('ok')")  # ENOSPC here if cpuset were left empty
    out, _ = proc.communicate(timeout=30)
    assert out.strip() == b"ok"
    assert Cgroup.open(cg.path).dirs() == cg.dirs()


def test_apply_writes_the_limit_files(cg: Cgroup) -> None:
    warnings = cg.apply({
        "memory": {"limit": 32 * MiB, "swap": 32 * MiB, "reservation": 16 * MiB},
        "pids": {"limit": 20},
        "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"},
    })
    if cg.v2:
        assert control(cg, "memory", "memory.max") == str(32 * MiB)
        assert control(cg, "memory", "memory.low") == str(16 * MiB)
        assert control(cg, "pids", "pids.max") == "20"
        assert control(cg, "cpu", "cpu.max") == "50000 100000"
        assert control(cg, "cpu", "cpu.weight") == str(cgroups.shares_to_weight(512))
    else:
        assert control(cg, "memory", "memory.limit_in_bytes") == str(32 * MiB)
        assert control(cg, "memory", "memory.soft_limit_in_bytes") == str(16 * MiB)
        if os.path.exists(os.path.join(cg.dir("memory") or "", "memory.memsw.limit_in_bytes")):
            assert control(cg, "memory", "memory.memsw.limit_in_bytes") == str(32 * MiB)
            assert warnings == []
        else:
            assert warnings == [cgroups.SWAP_WARNING]
        assert control(cg, "pids", "pids.max") == "20"
        assert control(cg, "cpu", "cpu.shares") == "512"
        assert control(cg, "cpu", "cpu.cfs_quota_us") == "50000"
        assert control(cg, "cpu", "cpu.cfs_period_us") == "100000"
    assert control(cg, "cpuset", "cpuset.cpus") == "0"
    # lowering then raising memory+swap again must respect memsw >= memory at each step
    cg.apply({"memory": {"limit": 16 * MiB, "swap": 16 * MiB}})
    cg.apply({"memory": {"limit": 64 * MiB, "swap": 64 * MiB}})
    cg.apply({"memory": {"limit": -1, "swap": -1}, "pids": {"limit": -1}})
    assert control(cg, "pids", "pids.max") == "max"


def test_fork_beyond_the_pids_limit_fails_with_eagain(cg: Cgroup) -> None:
    cg.apply({"pids": {"limit": 20}})
    code = """
import errno, os, time
kids = []
try:
    while len(kids) < 100:
        pid = os.fork()
        if pid == 0:
            time.sleep(60)
            os._exit(0)
        kids.append(pid)
    print("no limit", len(kids))
except OSError as exc:
    print(errno.errorcode[exc.errno], len(kids))
finally:
    for pid in kids:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
"""
    proc = start_in(cg, code)
    out, err = proc.communicate(timeout=60)
    name, count = out.decode().split()
    assert name == "EAGAIN", err
    assert int(count) == 19  # the forking parent is the 20th task


def test_memory_hog_is_oom_killed(cg: Cgroup) -> None:
    cg.apply({"memory": {"limit": 32 * MiB, "swap": 32 * MiB}})  # no swap to escape into
    assert not cg.oom_killed()
    proc = start_in(cg, "blob = b'x' * (256 << 20)\nprint('survived')")
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, out
    assert cg.oom_killed()
    stats = cg.stats()["memory_stats"]
    assert stats["limit"] == 32 * MiB
    if not cg.v2:
        assert stats["max_usage"] >= 30 * MiB


def test_freeze_and_thaw_stop_and_resume_the_processes(cg: Cgroup) -> None:
    proc = start_in(cg, "import time, sys\nwhile True:\n"
                        "    sys.stdout.write('.'); sys.stdout.flush(); time.sleep(0.01)")
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    try:
        assert os.read(fd, 1) == b"."
        cg.freeze()
        assert cg.frozen()
        time.sleep(0.05)
        _drain(fd)
        assert select.select([fd], [], [], 0.3)[0] == []  # nothing while frozen
        cg.thaw()
        assert not cg.frozen()
        assert select.select([fd], [], [], 5)[0] == [fd]  # moving again
    finally:
        proc.kill()
        proc.wait()


def _drain(fd: int) -> None:
    while select.select([fd], [], [], 0)[0]:
        if not os.read(fd, 65536):
            return


def test_stats_report_usage(cg: Cgroup) -> None:
    proc = start_in(cg, "x = sum(range(3_000_000)); blob = b'y' * (8 << 20)\n"
                        "import sys, time; print('ready', flush=True); time.sleep(60)")
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == b"ready"
        s = cg.stats()
        assert set(s) == {"memory_stats", "cpu_stats", "pids_stats", "blkio_stats"}
        assert s["memory_stats"]["usage"] >= 8 * MiB
        assert s["memory_stats"]["stats"]
        cpu = s["cpu_stats"]
        assert cpu["cpu_usage"]["total_usage"] > 0
        assert cpu["system_cpu_usage"] > 0 and cpu["online_cpus"] >= 1
        if not cg.v2:
            assert len(cpu["cpu_usage"]["percpu_usage"]) >= cpu["online_cpus"]
            assert sum(cpu["cpu_usage"]["percpu_usage"]) == pytest.approx(
                cpu["cpu_usage"]["total_usage"], rel=0.1)
        assert s["pids_stats"]["current"] == 1
        assert isinstance(s["blkio_stats"]["io_service_bytes_recursive"], list | None)
    finally:
        proc.kill()
        proc.wait()


def test_kill_all_and_remove_leave_nothing_behind(cg: Cgroup) -> None:
    procs = [start_in(cg, "import time; time.sleep(60)") for _ in range(3)]
    assert sorted(cg.pids()) == sorted(p.pid for p in procs)
    cg.kill_all(signal.SIGKILL)
    assert [p.wait(timeout=10) for p in procs] == [-signal.SIGKILL] * 3
    assert cg.pids() == []
    assert not cg.frozen()  # the freeze around the sweep was undone
    cg.remove()
    assert not cg.exists()
    assert not any(os.path.exists(d) for d in cg.dirs())
    with pytest.raises(FileNotFoundError):
        Cgroup.open(cg.path)
    cg.remove()  # idempotent


def test_remove_takes_sub_cgroups_too(cg: Cgroup) -> None:
    for d in cg.dirs():
        os.mkdir(os.path.join(d, "nested"))
    cg.remove()
    assert not cg.exists()


@root_only
@pytest.mark.skipif(cgroups.mode() != "hybrid", reason="needs the hybrid layout's cgroup2 mount")
def test_v2_code_paths_on_the_hybrid_unified_mount() -> None:
    """The controller-less cgroup2 mount still has procs, freeze and kill: drive the v2
    branches there (no controllers enabled, so the host's subtree_control is untouched)."""
    h = Hierarchies("v2", {}, cgroups.detect().v2)
    group = Cgroup.create(f"{PARENT}/{uuid.uuid4().hex[:12]}", h, controllers=())
    try:
        procs = [start_in(group, "import time; time.sleep(60)") for _ in range(2)]
        assert group.pids() == sorted(p.pid for p in procs)
        group.freeze()
        assert group.frozen()
        group.thaw()
        assert not group.frozen()
        assert group.stats()["cpu_stats"]["cpu_usage"]["total_usage"] > 0
        group.kill_all(signal.SIGKILL)  # cgroup.kill
        assert [p.wait(timeout=10) for p in procs] == [-signal.SIGKILL] * 2
        group.remove()
        assert not group.exists()
    finally:
        _cleanup(group)


# -- translations on a fake tree -------------------------------------------------------------------
def fake_tree(tmp_path: Path, files: list[str]) -> Path:
    d = tmp_path / "ctr"
    d.mkdir()
    for name in files:
        (d / name).write_text("")
    return d


def test_v2_translations(tmp_path: Path) -> None:
    d = fake_tree(tmp_path, ["memory.max", "memory.swap.max", "memory.low", "cpu.weight",
                             "cpu.max", "pids.max", "io.weight", "cpuset.cpus", "memory.high"])
    group = Cgroup("ctr", Hierarchies("v2", {}, str(tmp_path)))
    warnings = group.apply({
        "memory": {"limit": 100 * MiB, "swap": 300 * MiB, "reservation": 50 * MiB,
                   "swappiness": 10},
        "cpu": {"shares": 1024, "quota": 150000, "cpus": "0-1"},
        "pids": {"limit": -1},
        "blockIO": {"weight": 500},
        "devices": [{"allow": True, "access": "rwm"}],
        "unified": {"memory.high": "90000000"},
    })
    read = lambda name: (d / name).read_text()  # noqa: E731
    assert read("memory.max") == str(100 * MiB)
    assert read("memory.swap.max") == str(200 * MiB)  # OCI swap counts memory too
    assert read("memory.low") == str(50 * MiB)
    assert read("cpu.weight") == "39"
    assert read("cpu.max") == "150000 100000"
    assert read("pids.max") == "max"
    assert read("io.weight") == f"default {cgroups.blkio_weight_to_io(500)}"
    assert read("cpuset.cpus") == "0-1"
    assert read("memory.high") == "90000000"
    assert warnings == ["memory swappiness is not supported on cgroup v2 and was ignored"]
    assert cgroups.shares_to_weight(2) == 1 and cgroups.shares_to_weight(262144) == 10000
    assert cgroups.blkio_weight_to_io(10) == 1 and cgroups.blkio_weight_to_io(1000) == 10000
    with pytest.raises(ValueError):
        group.apply({"unified": {"../escape": "1"}})


def test_v1_swap_without_memsw_warns_like_docker(tmp_path: Path) -> None:
    d = fake_tree(tmp_path, ["memory.limit_in_bytes"])
    group = Cgroup("ctr", Hierarchies("v1", {"memory": str(tmp_path)}))
    warnings = group.apply({"memory": {"limit": 64 * MiB, "swap": 128 * MiB}})
    assert warnings == [cgroups.SWAP_WARNING]
    assert (d / "memory.limit_in_bytes").read_text() == str(64 * MiB)


def test_v1_device_rules_in_order(tmp_path: Path) -> None:
    d = fake_tree(tmp_path, ["devices.allow", "devices.deny"])
    group = Cgroup("ctr", Hierarchies("v1", {"devices": str(tmp_path)}))
    group.apply({"devices": [{"allow": False, "access": "rwm"},
                             {"allow": True, "type": "c", "major": 1, "minor": 3,
                              "access": "rwm"}]})
    assert (d / "devices.deny").read_text() == "a *:* rwm"
    assert (d / "devices.allow").read_text() == "c 1:3 rwm"


def test_blkio_lines_parse() -> None:
    text = "8:0 Read 4096\n8:0 Write 512\n8:0 Total 4608\nTotal 4608"
    assert cgroups._blkio_entries(text) == [
        {"major": 8, "minor": 0, "op": "Read", "value": 4096},
        {"major": 8, "minor": 0, "op": "Write", "value": 512},
        {"major": 8, "minor": 0, "op": "Total", "value": 4608},
    ]
