"""The real docker CLI against wharfied: the container lifecycle with real isolation."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from support.daemon import WharfieDaemon

DEFAULT_CAPS = 0xA80425FB  # Docker's 14 default capabilities as a CapEff mask


@pytest.fixture(scope="module", autouse=True)
def busybox(daemon: WharfieDaemon, busybox_archive: Path) -> None:
    daemon.docker.ok("load", "-i", str(busybox_archive))


def run(docker, *args: str, **kw):  # type: ignore[no-untyped-def]
    return docker("run", *args, **kw)


def test_run_rm_output_and_exit_codes(docker) -> None:
    r = run(docker, "--rm", "busybox", "echo", "hello world")
    assert r.rc == 0 and r.out == "hello world\n"
    r = run(docker, "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 7")
    assert (r.rc, r.out) == (7, "out\n") and "err\n" in r.err
    r = run(docker, "--rm", "busybox", "no-such-binary")
    assert r.rc == 127 and 'exec: "no-such-binary": executable file not found in $PATH' in r.err
    r = run(docker, "--rm", "busybox", "/etc")
    assert r.rc == 126
    r = run(docker, "--rm", "nosuchimage:1", "true")
    assert r.rc == 125 and "Unable to find image 'nosuchimage:1' locally" in r.err
    assert docker.ok("ps", "-aq") == ""  # every --rm container is gone


def test_run_flags(docker) -> None:
    out = docker.ok("run", "--rm", "-e", "A=1", "-w", "/tmp", "-u", "nobody", "-h", "myhost",
                    "--entrypoint", "sh", "busybox", "-c", "echo $A; pwd; id -u; hostname")
    assert out.split() == ["1", "/tmp", "65534", "myhost"]
    env_file = "/tmp/wharfie-test.env"
    Path(env_file).write_text("B=two\n# comment\n")
    assert docker.ok("run", "--rm", "--env-file", env_file, "busybox", "sh", "-c", "echo $B").strip() == "two"
    r = run(docker, "--rm", "--read-only", "busybox", "touch", "/x")
    assert r.rc != 0 and "Read-only file system" in r.err
    assert docker.ok("run", "--rm", "--read-only", "--tmpfs", "/scratch", "busybox", "touch", "/scratch/x") == ""
    labels = docker.ok("run", "-d", "--label", "team=red", "--name", "labelled", "busybox", "true")
    docker.ok("wait", "labelled")
    assert docker.ok("ps", "-a", "--filter", "label=team=red", "--format", "{{.Names}}").strip() == "labelled"
    assert json.loads(docker.ok("inspect", labels.strip()))[0]["Config"]["Labels"]["team"] == "red"
    docker.ok("rm", "labelled")


def test_detached_ps_logs_exec_stop(docker) -> None:
    cid = docker.ok("run", "-d", "--name", "ticker", "busybox", "sh", "-c",
                    "trap 'echo bye; exit 0' TERM; i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done").strip()
    assert len(cid) == 64
    ps = docker.ok("ps", "--format", "{{.ID}} {{.Names}} {{.Status}}")
    assert f"{cid[:12]} ticker Up" in ps
    time.sleep(0.5)
    logs = docker.ok("logs", "ticker")
    assert logs.startswith("tick 0\ntick 1\n")
    follow = subprocess.Popen(["docker", "logs", "-f", "--tail", "1", "ticker"], env=docker.env,
                              stdout=subprocess.PIPE, text=True)
    first = follow.stdout.readline()  # type: ignore[union-attr]
    second = follow.stdout.readline()  # type: ignore[union-attr]
    assert first.startswith("tick ") and second.startswith("tick ")
    assert int(second.split()[1]) == int(first.split()[1]) + 1
    assert docker.ok("exec", "ticker", "cat", "/etc/hostname").strip() == cid[:12]
    r = docker("exec", "ticker", "sh", "-c", "exit 4")
    assert r.rc == 4
    assert docker("exec", "ticker", "nope").rc == 127
    assert docker.ok("exec", "-e", "X=y", "-w", "/etc", "-u", "nobody", "ticker", "sh", "-c", "echo $X $(pwd) $(id -u)").split() == ["y", "/etc", "65534"]
    assert docker.ok("exec", "-i", "ticker", "cat", input="piped\n") == "piped\n"
    docker.ok("stop", "ticker")
    follow.wait(10)  # logs -f ends when the container stops
    assert "bye" in docker.ok("logs", "--tail", "1", "ticker")
    state = json.loads(docker.ok("inspect", "ticker"))[0]["State"]
    assert state["Status"] == "exited" and state["ExitCode"] == 0
    assert "Exited (0)" in docker.ok("ps", "-a", "--filter", "name=ticker", "--format", "{{.Status}}")
    docker.ok("rm", "ticker")


def test_stop_timeout_kills(docker) -> None:
    docker.ok("run", "-d", "--name", "stubborn", "busybox", "sleep", "100")
    t0 = time.monotonic()
    docker.ok("stop", "-t", "1", "stubborn")
    assert time.monotonic() - t0 < 5
    assert json.loads(docker.ok("inspect", "stubborn"))[0]["State"]["ExitCode"] == 137
    docker.ok("rm", "stubborn")


def test_kill_restart_pause_rename_top(docker) -> None:
    docker.ok("run", "-d", "--name", "k", "busybox", "sleep", "100")
    top = docker.ok("top", "k")
    assert "sleep 100" in top
    docker.ok("pause", "k")
    assert "(Paused)" in docker.ok("ps", "--filter", "name=k", "--format", "{{.Status}}")
    assert json.loads(docker.ok("inspect", "k"))[0]["State"]["Status"] == "paused"
    docker.ok("unpause", "k")
    docker.ok("rename", "k", "k2")
    docker.ok("restart", "-t", "0", "k2")
    assert json.loads(docker.ok("inspect", "k2"))[0]["State"]["Running"] is True
    docker.ok("kill", "-s", "KILL", "k2")
    assert docker.ok("wait", "k2").strip() == "137"
    r = docker("kill", "k2")
    assert r.rc == 1 and "is not running" in r.err
    docker.ok("start", "k2")
    r = docker("rm", "k2")
    assert r.rc == 1 and "container is running" in r.err
    docker.ok("rm", "-f", "k2")


def test_run_interactive_under_pty(daemon: WharfieDaemon) -> None:
    import pexpect

    child = pexpect.spawn("docker", ["run", "-it", "--rm", "busybox", "sh"], env=daemon.env, timeout=20,
                          dimensions=(30, 100))
    child.expect(r"[#$] ")
    child.sendline("stty size; tty; echo marker-$((6*7))")
    child.expect("30 100")
    child.expect("/dev/pts/0")
    child.expect("marker-42")
    child.sendline("exit 3")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 3


def test_cp_both_ways(docker, tmp_path: Path) -> None:
    docker.ok("run", "-d", "--name", "cpt", "busybox", "sh", "-c", "mkdir -p /data/sub; echo inside > /data/sub/f; sleep 100")
    time.sleep(0.3)
    docker.ok("cp", "cpt:/data", str(tmp_path / "out"))
    assert (tmp_path / "out" / "sub" / "f").read_text() == "inside\n"
    (tmp_path / "up.txt").write_text("from host\n")
    docker.ok("cp", str(tmp_path / "up.txt"), "cpt:/tmp/")
    assert docker.ok("exec", "cpt", "cat", "/tmp/up.txt") == "from host\n"
    r = docker("cp", "cpt:/nonexistent", str(tmp_path / "x"))
    assert r.rc == 1 and "Could not find the file /nonexistent" in r.err
    docker.ok("rm", "-f", "cpt")


def test_bind_mounts_and_readonly(docker, tmp_path: Path) -> None:
    host = tmp_path / "shared"
    host.mkdir()
    docker.ok("run", "--rm", "-v", f"{host}:/out", "busybox", "sh", "-c", "echo written > /out/file")
    assert (host / "file").read_text() == "written\n"
    r = run(docker, "--rm", "-v", f"{host}:/out:ro", "busybox", "sh", "-c", "echo x > /out/other")
    assert r.rc != 0 and "Read-only file system" in r.err
    assert not (host / "other").exists()
    out = docker.ok("run", "--rm", "--mount", f"type=bind,source={host},target=/m,readonly", "busybox", "cat", "/m/file")
    assert out == "written\n"


def test_named_volumes_persist(docker) -> None:
    docker.ok("volume", "create", "--label", "purpose=test", "keep")
    docker.ok("run", "--rm", "-v", "keep:/data", "busybox", "sh", "-c", "echo persisted > /data/v")
    assert docker.ok("run", "--rm", "-v", "keep:/data", "busybox", "cat", "/data/v") == "persisted\n"
    assert "keep" in docker.ok("volume", "ls", "-q").split()
    info = json.loads(docker.ok("volume", "inspect", "keep"))[0]
    assert info["Labels"] == {"purpose": "test"} and os.path.exists(info["Mountpoint"] + "/v")
    # Copy-up: an empty volume mounted over image content starts with that content.
    assert "passwd" in docker.ok("run", "--rm", "-v", "etcvol:/etc", "busybox", "ls", "/etc")
    docker.ok("run", "-d", "--name", "user", "-v", "keep:/data", "busybox", "sleep", "100")
    r = docker("volume", "rm", "keep")
    assert r.rc == 1 and "volume is in use" in r.err
    docker.ok("rm", "-f", "user")
    docker.ok("volume", "rm", "keep", "etcvol")
    assert "keep" not in docker.ok("volume", "ls", "-q").split()


def test_memory_and_pids_limits(docker) -> None:
    r = run(docker, "--rm", "-m", "32m", "--memory-swap", "32m", "busybox", "sh", "-c",
            "x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived")
    assert r.rc == 137 and "survived" not in r.out
    r = run(docker, "--name", "oom", "-m", "32m", "--memory-swap", "32m", "busybox", "sh", "-c",
            "exec tail /dev/zero")
    assert r.rc == 137
    assert json.loads(docker.ok("inspect", "oom"))[0]["State"]["OOMKilled"] is True
    docker.ok("rm", "oom")
    r = run(docker, "--rm", "--pids-limit", "5", "busybox", "sh", "-c",
            "for i in 1 2 3 4 5 6 7 8 9 10; do sleep 2 & done; echo never")
    assert r.rc != 0 and "never" not in r.out and "Resource temporarily unavailable" in r.err
    limit = docker.ok("run", "--rm", "--pids-limit", "10", "busybox", "cat", "/sys/fs/cgroup/pids/pids.max")
    assert limit.strip() == "10"


def test_restart_on_failure_counted(docker) -> None:
    docker.ok("run", "-d", "--name", "flaky", "--restart", "on-failure:2", "busybox", "sh", "-c", "exit 1")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        doc = json.loads(docker.ok("inspect", "flaky"))[0]
        if doc["RestartCount"] == 2 and not doc["State"]["Running"] and not doc["State"]["Restarting"]:
            break
        time.sleep(0.2)
    assert doc["RestartCount"] == 2
    assert doc["State"]["ExitCode"] == 1
    assert doc["HostConfig"]["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 2}
    docker.ok("rm", "-f", "flaky")


def test_isolation_from_inside(docker) -> None:
    script = ("echo pid1=$(cat /proc/1/cmdline | tr '\\0' ' '); echo procs=$(ls /proc | grep -c '^[0-9]'); "
              "grep CapEff /proc/self/status; grep CapBnd /proc/self/status; "
              "cat /proc/timer_list /proc/interrupts 2>&1 | wc -c; ls /sys/firmware | wc -l; "
              "mount -t tmpfs none /mnt 2>&1 || echo mount-failed; "
              "echo 1 > /proc/sys/kernel/domainname 2>&1 || echo procsys-ro; hostname")
    out = docker.ok("run", "--rm", "--name", "iso", "busybox", "sh", "-c", script)
    lines = out.splitlines()
    assert lines[0].startswith("pid1=sh -c ")
    assert int(lines[1].split("=")[1]) <= 5  # sh, its subshells, ls, grep: no host processes
    assert int(lines[2].split()[1], 16) == DEFAULT_CAPS
    assert int(lines[3].split()[1], 16) == DEFAULT_CAPS
    assert Path("/proc/timer_list").stat().st_size == 0 and len(Path("/proc/interrupts").read_text()) > 0
    assert lines[4].strip() == "0"  # masked: /dev/null is bound over them
    assert lines[5].strip() == "0"  # /sys/firmware is an empty tmpfs
    assert "mount-failed" in out
    assert "procsys-ro" in out
    host_pids = set(os.listdir("/proc"))
    assert len([p for p in host_pids if p.isdigit()]) > 10
    priv = docker.ok("run", "--rm", "--privileged", "busybox", "sh", "-c", "grep CapEff /proc/self/status")
    assert int(priv.split()[1], 16) > DEFAULT_CAPS
    add = docker.ok("run", "--rm", "--cap-add", "NET_ADMIN", "--cap-drop", "CHOWN", "busybox", "grep", "CapEff", "/proc/self/status")
    mask = int(add.split()[1], 16)
    assert mask & (1 << 12) and not mask & 1  # NET_ADMIN in, CHOWN out
    nnp = docker.ok("run", "--rm", "--security-opt", "no-new-privileges", "busybox", "grep", "NoNewPrivs", "/proc/self/status")
    assert nnp.split()[1] == "1"
    seccomp = docker.ok("run", "--rm", "busybox", "grep", "Seccomp:", "/proc/self/status")
    assert seccomp.split()[1] == "2"
    none = docker.ok("run", "--rm", "--network", "none", "busybox", "ls", "/sys/class/net")
    assert none.split() == ["lo"]
    host = docker.ok("run", "--rm", "--network", "host", "busybox", "ls", "/sys/class/net")
    assert set(host.split()) == set(os.listdir("/sys/class/net"))


def test_rmi_of_used_image_is_refused(docker, busybox_archive: Path) -> None:
    docker.ok("tag", "busybox", "inuse:1")
    docker.ok("create", "--name", "holder", "inuse:1", "true")
    docker.ok("rmi", "inuse:1")  # untagging is fine while another tag remains
    docker.ok("tag", "busybox", "inuse:1")
    r = docker("rmi", "busybox")
    assert r.rc == 0  # still untag-only: inuse:1 remains
    r = docker("rmi", "inuse:1")
    assert r.rc == 1 and "container" in r.err and "is using its referenced image" in r.err
    docker.ok("rm", "holder")
    docker.ok("rmi", "inuse:1")
    docker.ok("load", "-i", str(busybox_archive))


def test_container_prune_and_events(docker) -> None:
    since = str(int(time.time()) - 1)
    docker.ok("run", "--name", "done1", "busybox", "true")
    out = docker.ok("container", "prune", "-f")
    assert "Deleted Containers:" in out
    assert "done1" not in docker.ok("ps", "-a", "--format", "{{.Names}}")
    events = docker.ok("events", "--since", since, "--until", str(int(time.time()) + 1),
                       "--filter", "type=container", "--format", "{{.Action}}").split()
    for action in ("create", "start", "die", "destroy"):
        assert action in events


def test_init_stop_signal_attach_and_logs_filters(docker) -> None:
    out = docker.ok("run", "--rm", "--init", "busybox", "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '")
    assert out.startswith("/sbin/docker-init -- sh -c")
    # --stop-signal: the container traps USR1 (and ignores TERM).
    docker.ok("run", "-d", "--name", "sig", "--stop-signal", "USR1", "--stop-timeout", "5", "busybox", "sh", "-c",
              "trap 'echo got-usr1; exit 0' USR1; trap '' TERM; while true; do sleep 0.1; done")
    time.sleep(0.3)
    t0 = time.monotonic()
    docker.ok("stop", "sig")
    assert time.monotonic() - t0 < 4
    assert "got-usr1" in docker.ok("logs", "sig")
    assert json.loads(docker.ok("inspect", "sig"))[0]["Config"]["StopSignal"] == "USR1"
    docker.ok("rm", "sig")
    # -a stdout only: stderr is not attached.
    r = run(docker, "--rm", "-a", "stdout", "busybox", "sh", "-c", "echo o; echo e >&2")
    assert r.out == "o\n" and "e" not in r.err.splitlines()
    # logs with timestamps, since/until.
    docker.ok("run", "--name", "lg", "busybox", "sh", "-c", "echo first; sleep 1.2; echo second")
    stamped = docker.ok("logs", "-t", "lg").splitlines()
    assert stamped[0].endswith(" first") and stamped[0][:4].isdigit() and "T" in stamped[0]
    second_time = stamped[1].split()[0]
    assert docker.ok("logs", "--since", second_time, "lg") == "second\n"
    assert docker.ok("logs", "--until", second_time[:19] + "Z", "lg") == "first\n"
    docker.ok("rm", "lg")


def test_attach_to_running_and_ps_options(docker) -> None:
    docker.ok("run", "-d", "--name", "talker", "busybox", "sh", "-c", "sleep 0.5; echo late-line; sleep 100")
    attach = subprocess.Popen(["docker", "attach", "--no-stdin", "talker"], env=docker.env,
                              stdout=subprocess.PIPE, text=True)
    assert attach.stdout.readline() == "late-line\n"  # type: ignore[union-attr]
    attach.kill()
    attach.wait()
    docker.ok("run", "--name", "old1", "busybox", "true")
    assert docker.ok("ps", "-n", "1", "--format", "{{.Names}}").strip() == "old1"
    assert docker.ok("ps", "-l", "-q") == docker.ok("ps", "-aq", "--filter", "name=old1")
    sized = docker.ok("ps", "-s", "--filter", "name=talker", "--format", "{{.Size}}")
    assert "B" in sized
    exited = docker.ok("ps", "-a", "--filter", "exited=0", "--format", "{{.Names}}").split()
    assert "old1" in exited and "talker" not in exited
    assert docker.ok("ps", "--filter", "status=running", "--format", "{{.Names}}").split() == ["talker"]
    assert docker.ok("ps", "-a", "--filter", "ancestor=busybox", "-q") != ""
    docker.ok("update", "--memory", "64m", "--memory-swap", "128m", "talker")
    stats = docker.ok("stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}}", "talker")
    assert stats.startswith("talker ") and "64MiB" in stats
    docker.ok("rm", "-f", "talker", "old1")


def test_runc_executor_runs_the_same_bundle(docker) -> None:
    """`--runtime runc`: the shim drives runc on the bundle the built-in executor would run."""
    out = docker.ok("run", "--rm", "--runtime", "runc", "busybox", "sh", "-c",
                    "grep CapEff /proc/self/status; cat /proc/1/cmdline | tr '\\0' ' '")
    assert int(out.split()[1], 16) == DEFAULT_CAPS and "sh -c" in out
    assert docker("run", "--rm", "--runtime", "runc", "busybox", "sh", "-c", "exit 6").rc == 6
    docker.ok("run", "-d", "--name", "viarunc", "--runtime", "runc", "busybox", "sleep", "100")
    assert docker.ok("exec", "viarunc", "echo", "ok") == "ok\n"
    assert json.loads(docker.ok("inspect", "viarunc"))[0]["HostConfig"]["Runtime"] == "runc"
    docker.ok("rm", "-f", "viarunc")
    r = docker("run", "--rm", "--runtime", "bogus", "busybox", "true")
    assert r.rc == 125 and "unknown or invalid runtime name: bogus" in r.err


def test_cpu_limits_reach_the_cgroup(docker) -> None:
    out = docker.ok("run", "--rm", "--cpus", "0.5", "--cpu-shares", "512", "--cpuset-cpus", "0", "busybox", "sh", "-c",
                    "cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us "
                    "/sys/fs/cgroup/cpu/cpu.shares /sys/fs/cgroup/cpuset/cpuset.cpus")
    assert out.split() == ["50000", "100000", "512", "0"]
    r = docker("run", "--rm", "-m", "1m", "busybox", "true")
    assert r.rc == 125 and "Minimum memory limit allowed is 6MB" in r.err


def test_commit_makes_an_image_from_the_container(docker) -> None:
    docker.ok("run", "--name", "tocommit", "busybox", "sh", "-c",
              "echo committed > /hello; rm /etc/group; mkdir -p /d && echo x > /d/f")
    image_id = docker.ok("commit", "-c", "CMD [\"cat\", \"/hello\"]", "-m", "a message", "-a", "me",
                         "tocommit", "committed:1").strip()
    assert image_id.startswith("sha256:")
    assert docker.ok("run", "--rm", "committed:1") == "committed\n"
    r = docker("run", "--rm", "committed:1", "cat", "/etc/group")
    assert r.rc != 0  # the deletion is a whiteout in the new layer
    assert docker.ok("run", "--rm", "committed:1", "cat", "/etc/passwd").startswith("root:")
    doc = json.loads(docker.ok("image", "inspect", "committed:1"))[0]
    assert doc["Author"] == "me" and doc["Comment"] == "a message" and len(doc["RootFS"]["Layers"]) == 2
    hist = docker.ok("history", "--no-trunc", "--format", "{{.CreatedBy}}|{{.Comment}}", "committed:1").splitlines()
    assert hist[0].startswith("sh -c echo committed") and hist[0].endswith("|a message")
    docker.ok("rm", "tocommit")
    docker.ok("rmi", "committed:1")


def test_exec_errors_after_the_upgrade_reach_the_client(docker) -> None:
    docker.ok("run", "-d", "--name", "exerr", "busybox", "sleep", "100")
    r = docker("exec", "-u", "nosuchuser", "exerr", "true")
    assert r.rc == 126 and "unable to find user nosuchuser" in r.out + r.err
    docker.ok("rm", "-f", "exerr")


def test_ulimits_are_applied(docker) -> None:
    out = docker.ok("run", "--rm", "--ulimit", "nofile=512:1024", "busybox", "sh", "-c", "ulimit -n; ulimit -Hn")
    assert out.split() == ["512", "1024"]


def _health(docker, cid: str) -> dict:  # type: ignore[no-untyped-def]
    return json.loads(docker.ok("inspect", cid))[0]["State"]["Health"]


def _until(pred, timeout: float = 15):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.1)
    return pred()


def test_health_checks(docker, daemon: WharfieDaemon) -> None:
    """--health-*: starting → healthy → unhealthy after Retries failures, shown by ps (status and
    the health filter), inspect (Log with output) and events; a slow probe is killed at Timeout."""
    since = str(int(time.time()))
    cid = docker.ok("run", "-d", "--health-cmd", "cat /tmp/ok", "--health-interval", "300ms",
                    "--health-retries", "2", "busybox", "sh", "-c", "sleep 1; echo fine > /tmp/ok; sleep 300").strip()
    try:
        assert "(health: starting)" in docker.ok("ps", "--filter", f"id={cid}", "--format", "{{.Status}}")
        assert _until(lambda: _health(docker, cid)["Status"] == "healthy")
        log = _health(docker, cid)["Log"]
        assert log[-1]["ExitCode"] == 0 and log[-1]["Output"] == "fine\n" and len(log) <= 5
        assert "(healthy)" in docker.ok("ps", "--filter", f"id={cid}", "--format", "{{.Status}}")
        docker.ok("exec", cid, "rm", "/tmp/ok")
        assert _until(lambda: _health(docker, cid)["Status"] == "unhealthy")
        health = _health(docker, cid)
        assert health["FailingStreak"] >= 2 and health["Log"][-1]["ExitCode"] == 1
        assert docker.ok("ps", "-q", "--no-trunc", "--filter", "health=unhealthy").split() == [cid]
        events = docker.ok("events", "--since", since, "--until", str(int(time.time()) + 1),
                           "--filter", f"container={cid}", "--format", "{{.Action}}").splitlines()
        assert "health_status: healthy" in events and "health_status: unhealthy" in events
    finally:
        docker.ok("rm", "-f", cid)
    slow = docker.ok("run", "-d", "--health-cmd", "sleep 10", "--health-interval", "200ms",
                     "--health-timeout", "300ms", "busybox", "sleep", "300").strip()
    try:
        entry = _until(lambda: (_health(docker, slow).get("Log") or [None])[-1])
        assert entry["ExitCode"] == -1 and "Health check exceeded timeout (300ms)" in entry["Output"]
    finally:
        docker.ok("rm", "-f", slow)


@pytest.mark.parametrize("cli", ["docker", "wharfie"])
def test_diff_and_export(daemon: WharfieDaemon, tmp_path: Path, cli: str) -> None:
    """`diff` lists A/C/D against the image (not the runtime's own mount targets); `export`
    writes the container's filesystem, running or stopped, without its volumes."""
    import tarfile

    client = daemon.docker if cli == "docker" else daemon.wharfie
    cid = client.ok("run", "-d", "-v", "/data", "busybox", "sh", "-c",
                    "mkdir -p /tmp/new && echo x > /tmp/new/f && rm /bin/vi && echo v > /data/v && "
                    "echo edited >> /etc/passwd && sleep 300").strip()
    try:
        deadline = time.monotonic() + 10
        while "/etc/passwd" not in client.ok("diff", cid) and time.monotonic() < deadline:
            time.sleep(0.1)
        lines = client.ok("diff", cid).splitlines()
        assert {"C /tmp", "A /tmp/new", "A /tmp/new/f", "D /bin/vi", "C /etc", "C /etc/passwd"} <= set(lines)
        assert not [line for line in lines if line.split()[1].startswith(("/dev", "/proc", "/sys", "/data/",
                                                                          "/etc/hosts", "/etc/resolv.conf"))]
        for state in ("running", "stopped"):
            out = tmp_path / f"{state}.tar"
            client.ok("export", "-o", str(out), cid)
            with tarfile.open(out) as tf:
                names = set(tf.getnames())
                assert "tmp/new/f" in names and "bin/sh" in names and "bin/vi" not in names
                assert "data/v" not in names  # a volume is not the container's filesystem
                assert tf.extractfile("etc/passwd").read().endswith(b"edited\n")  # type: ignore[union-attr]
            client.ok("stop", "-t", "0", cid)
        assert client("export", "no-such-container").rc != 0
    finally:
        client.ok("rm", "-f", "-v", cid)


def test_system_df(daemon: WharfieDaemon, sdk) -> None:  # type: ignore[no-untyped-def]
    """`system df`: the API's sizes and counts, rendered the same by docker and wharfie."""
    vol = "df-vol"
    daemon.docker.ok("volume", "create", vol)
    cid = daemon.docker.ok("run", "-d", "-v", f"{vol}:/v", "busybox", "sh", "-c",
                           "head -c 100000 /dev/zero > /v/blob; head -c 5000 /dev/zero > /big; sleep 300").strip()
    try:
        du: dict = {}
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            du = sdk.df()
            vols = {v["Name"]: v for v in du["Volumes"]}
            if vols[vol]["UsageData"]["Size"] >= 100000:
                break
            time.sleep(0.1)
        assert vols[vol]["UsageData"] == {"Size": 100000, "RefCount": 1}
        mine = [c for c in du["Containers"] if c["Id"] == cid][0]
        assert mine["SizeRw"] >= 5000 and mine["State"] == "running"
        busybox = [i for i in du["Images"] if "busybox:latest" in i["RepoTags"]][0]
        assert busybox["Containers"] >= 1 and du["LayersSize"] >= busybox["Size"] > 0
        ours, theirs = daemon.wharfie.ok("system", "df"), daemon.docker.ok("system", "df")
        assert ours == theirs
        assert theirs.splitlines()[0].split() == ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
    finally:
        daemon.docker.ok("rm", "-f", cid)
        daemon.docker.ok("volume", "rm", vol)


def test_system_prune(daemon: WharfieDaemon) -> None:
    """`system prune -f`: stopped containers (and with --volumes, anonymous volumes) go, with
    docker's sections and total; the prompt lists what will go."""
    daemon.docker.ok("run", "-v", "/anon", "busybox", "true")
    cid = daemon.docker.ok("ps", "-aq", "--no-trunc", "--filter", "status=exited").split()
    assert cid
    vols = json.loads(daemon.docker.ok("inspect", cid[0]))[0]["Mounts"]
    out = daemon.wharfie.ok("system", "prune", "-f", "--volumes")
    assert out.startswith("Deleted Containers:\n") and f"{cid[0]}\n\n" in out
    deleted_volumes = out.split("Deleted Volumes:\n", 1)[1].split("\n\n", 1)[0].split()
    assert vols[0]["Name"] in deleted_volumes  # (with any other test's leftovers)
    assert out.splitlines()[-1].startswith("Total reclaimed space: ")
    assert daemon.docker.ok("ps", "-aq", "--filter", "status=exited") == ""
    assert daemon.wharfie.ok("system", "prune", "-f") == daemon.docker.ok("system", "prune", "-f")
    asked = daemon.wharfie("system", "prune", input="n\n")
    assert asked.rc == 0 and "  - all stopped containers\n" in asked.out and "[y/N]" in asked.out
