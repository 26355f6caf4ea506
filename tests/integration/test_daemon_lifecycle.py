"""wharfied as a process: flags, lock, stale files, signals, crash recovery, events."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import imagegen
import pytest
from support.daemon import WharfieDaemon

from wharfie.snapshots.store import tree_size


@pytest.fixture
def fresh(tmp_path: Path):  # type: ignore[no-untyped-def]
    d = WharfieDaemon(tmp_path)
    yield d
    d.cleanup()


def test_sigterm_is_a_clean_shutdown(fresh: WharfieDaemon) -> None:
    fresh.start()
    assert fresh.pidfile.read_text().strip() == str(fresh.proc.pid)  # type: ignore[union-attr]
    assert fresh.stop(signal.SIGTERM) == 0
    assert not fresh.sock.exists() and not fresh.pidfile.exists()
    fresh.start()
    assert fresh.stop(signal.SIGINT) == 0


def test_second_daemon_on_same_data_root_is_refused(fresh: WharfieDaemon, tmp_path: Path) -> None:
    fresh.start()
    other = WharfieDaemon(tmp_path / "other")
    other.data_root = fresh.data_root
    p = subprocess.run(other.argv(), capture_output=True, text=True, timeout=30)
    assert p.returncode == 1
    assert f"data root {fresh.data_root} is in use by another wharfied" in p.stderr
    assert fresh.ping()


def test_second_daemon_on_same_socket_is_refused(fresh: WharfieDaemon, tmp_path: Path) -> None:
    fresh.start()
    other = WharfieDaemon(tmp_path / "other")
    argv = other.argv()
    argv[argv.index("-H") + 1] = fresh.url
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        assert p.returncode == 1 and "another daemon is already listening" in p.stderr
        assert fresh.ping()
    finally:
        other.cleanup()  # it got as far as setting up its (own) bridge


def test_stale_socket_and_pidfile_after_kill9(fresh: WharfieDaemon) -> None:
    fresh.start()
    fresh.kill9()
    assert fresh.sock.exists() and fresh.pidfile.exists()  # what a crash leaves
    fresh.start()
    assert fresh.docker.ok("version", "--format", "{{.Server.Version}}").strip()


def test_tcp_listener_and_config_file(fresh: WharfieDaemon) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    fresh.config.write_text(json.dumps({**fresh.network_config(), "hosts": [fresh.url, f"tcp://127.0.0.1:{port}"]}))
    argv = fresh.argv()
    i = argv.index("-H")
    del argv[i:i + 2]
    fresh.argv = lambda: argv  # type: ignore[method-assign]
    fresh.start()
    env = dict(fresh.env, DOCKER_HOST=f"tcp://127.0.0.1:{port}")
    p = subprocess.run(["docker", "version", "--format", "{{.Server.APIVersion}}"], env=env,
                       capture_output=True, text=True, timeout=30)
    assert p.stdout.strip() == "1.50", p.stderr


def test_flag_and_config_conflict(fresh: WharfieDaemon) -> None:
    fresh.config.write_text(json.dumps({"data-root": "/tmp/elsewhere"}))
    p = subprocess.run(fresh.argv(), capture_output=True, text=True, timeout=30)
    assert p.returncode == 1
    assert "specified both as a flag and in the configuration file: data-root" in p.stderr


def test_events_stream_image_actions(fresh: WharfieDaemon, busybox_archive: Path) -> None:
    fresh.start()
    since = str(int(time.time()) - 1)
    fresh.docker.ok("load", "-i", str(busybox_archive))
    fresh.docker.ok("tag", "busybox", "evt:1")
    fresh.docker.ok("rmi", "evt:1")
    until = str(int(time.time()) + 1)
    out = fresh.docker.ok("events", "--since", since, "--until", until, "--filter", "type=image",
                          "--format", "{{.Action}} {{.Actor.Attributes.name}}")
    lines = out.splitlines()
    assert lines[0].startswith("load ")
    assert "tag evt:1" in lines and any(line.startswith("untag") for line in lines)


def test_events_live_follow(fresh: WharfieDaemon, busybox_archive: Path) -> None:
    fresh.start()
    proc = subprocess.Popen(["docker", "events", "--format", "{{.Type}} {{.Action}}"], env=fresh.env,
                            stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(0.5)
        fresh.docker.ok("load", "-i", str(busybox_archive))
        line = _readline_with_timeout(proc, 10)
        assert line.strip() == "image load"
    finally:
        proc.kill()
        proc.wait()
    assert fresh.ping()


def test_kill9_during_large_load_leaves_consistent_store(fresh: WharfieDaemon, tmp_path: Path) -> None:
    """Kill the daemon mid-load: on restart no half-loaded image, and the leftovers are reclaimed."""
    big = imagegen.Image([imagegen.busybox_layer(), imagegen.filler_layer(200 << 20, "big", seed=9)],
                         {"Cmd": ["sh"]})
    path = tmp_path / "big.tar"
    imagegen.docker_archive([(big, ["big:1"])], str(path))
    fresh.start()
    loader = subprocess.Popen(["docker", "load", "-i", str(path)], env=fresh.env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    image_dir = fresh.data_root / "image"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # wait until the daemon is writing the big layer
        if tree_size(image_dir / "content" / "ingest") + tree_size(image_dir / "snapshots" / ".tmp") > 20 << 20:
            break
        time.sleep(0.01)
    else:
        pytest.fail("the load never got going")
    fresh.kill9()
    loader.wait(30)
    assert loader.returncode != 0
    fresh.start()
    assert fresh.docker.ok("images", "-q", "--no-trunc") == ""
    assert fresh.docker("image", "inspect", "big:1").rc == 1
    assert tree_size(image_dir / "content") < 1 << 20, "blobs of the aborted load were not reclaimed"
    assert list((image_dir / "snapshots" / ".tmp").iterdir()) == []
    assert [p.name for p in (image_dir / "snapshots").iterdir()] == [".tmp"]
    assert list((image_dir / "tmp").iterdir()) == []
    # The store still works: the same load now succeeds.
    assert "Loaded image: big:1" in fresh.docker.ok("load", "-i", str(path))
    assert json.loads(fresh.docker.ok("image", "inspect", "big:1"))[0]["Id"] == big.id


def _readline_with_timeout(proc: subprocess.Popen[str], timeout: float) -> str:
    box: list[str] = []
    t = threading.Thread(target=lambda: box.append(proc.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    t.start()
    t.join(timeout)
    assert box, "no event arrived"
    return box[0]


def test_containers_survive_daemon_kill9(fresh: WharfieDaemon, busybox_archive: Path) -> None:
    """kill -9 the daemon with containers running: after a restart they still run, are fully
    manageable (exec, logs, stop, wait) and no log line is lost."""
    fresh.start()
    docker = fresh.docker
    docker.ok("load", "-i", str(busybox_archive))
    docker.ok("run", "-d", "--name", "counter", "busybox", "sh", "-c",
              "i=0; while true; do echo n$i; i=$((i+1)); sleep 0.05; done")
    docker.ok("run", "-d", "--name", "sleeper", "busybox", "sleep", "1000")
    time.sleep(0.5)
    shim_pids = [p for p in os.listdir("/proc") if p.isdigit() and _cmdline(p).count(str(fresh.exec_root))]
    assert len(shim_pids) >= 2
    fresh.kill9()
    time.sleep(1)  # the counter keeps logging while no daemon runs
    fresh.start()
    names = docker.ok("ps", "--format", "{{.Names}} {{.State}}").splitlines()
    assert sorted(names) == ["counter running", "sleeper running"]
    assert docker.ok("exec", "sleeper", "echo", "alive") == "alive\n"
    waiter = subprocess.Popen(["docker", "wait", "sleeper"], env=fresh.env, stdout=subprocess.PIPE, text=True)
    docker.ok("stop", "-t", "1", "sleeper")
    assert waiter.communicate(timeout=20)[0].strip() == "137"
    docker.ok("stop", "-t", "1", "counter")
    lines = docker.ok("logs", "counter").split()
    assert lines == [f"n{i}" for i in range(len(lines))]  # contiguous: nothing lost
    assert len(lines) > 20
    docker.ok("rm", "counter", "sleeper")


def _cmdline(pid: str) -> str:
    try:
        return open(f"/proc/{pid}/cmdline", "rb").read().decode(errors="replace")
    except OSError:
        return ""


def test_restart_removes_stale_cgroups_of_stopped_containers(fresh: WharfieDaemon, busybox_archive: Path) -> None:
    """A crash can leave a stopped container's cgroup behind; the next start removes it (and
    only cgroups of this daemon's containers)."""
    fresh.start()
    fresh.docker.ok("load", "-i", str(busybox_archive))
    cid = fresh.docker.ok("run", "-d", "busybox", "true").strip()
    assert fresh.docker.ok("wait", cid).strip() == "0"
    memory = Path("/sys/fs/cgroup/memory")
    stale, foreign = memory / "wharfie" / cid, memory / "wharfie" / ("f" * 64)
    stale.mkdir(parents=True)  # what a daemon killed mid-cleanup leaves
    foreign.mkdir()
    try:
        fresh.kill9()
        fresh.start()
        assert not stale.exists()
        assert foreign.exists()
    finally:
        for d in (stale, foreign):
            if d.exists():
                d.rmdir()
