"""The docker SDK for Python against wharfied: containers.run, exec_run, logs, wait, stats."""

from __future__ import annotations

import json
import time
from pathlib import Path

import docker as docker_sdk
import pytest


@pytest.fixture(scope="module", autouse=True)
def busybox(daemon, busybox_archive: Path) -> None:  # type: ignore[no-untyped-def]
    daemon.docker.ok("load", "-i", str(busybox_archive))


def test_run_attached_and_detached(sdk) -> None:
    out = sdk.containers.run("busybox", ["sh", "-c", "echo to-out; echo to-err >&2"], remove=True)
    assert out == b"to-out\n"
    both = sdk.containers.run("busybox", ["sh", "-c", "echo a; echo b >&2"], stderr=True, remove=True)
    assert sorted(both.split()) == [b"a", b"b"]
    with pytest.raises(docker_sdk.errors.ContainerError) as e:
        sdk.containers.run("busybox", ["sh", "-c", "exit 3"], remove=True)
    assert e.value.exit_status == 3
    c = sdk.containers.run("busybox", ["sh", "-c", "echo started; sleep 100"], detach=True, name="sdk-bg")
    assert c.status in ("created", "running")
    c.reload()
    assert c.status == "running" and c.name == "sdk-bg"
    assert c in sdk.containers.list()
    c.stop(timeout=1)
    c.reload()
    assert c.status == "exited"
    c.remove()
    with pytest.raises(docker_sdk.errors.NotFound):
        sdk.containers.get("sdk-bg")


def test_exec_run_logs_wait_stats(sdk) -> None:
    c = sdk.containers.run("busybox", ["sh", "-c", "for i in 1 2 3; do echo line$i; done; sleep 100"],
                           detach=True, mem_limit="64m")
    try:
        time.sleep(0.3)
        code, out = c.exec_run(["sh", "-c", "echo exec-out; exit 2"])
        assert (code, out) == (2, b"exec-out\n")
        code, out = c.exec_run("env", environment={"Z": "9"}, user="nobody", workdir="/tmp")
        assert code == 0 and b"Z=9" in out
        assert c.logs() == b"line1\nline2\nline3\n"
        assert c.logs(tail=1) == b"line3\n"
        stamped = c.logs(timestamps=True).splitlines()[0]
        assert stamped.endswith(b" line1") and stamped[:4].isdigit()
        stream = c.logs(stream=True, follow=False)
        assert b"".join(stream) == b"line1\nline2\nline3\n"
        stats = c.stats(stream=False)
        assert stats["memory_stats"]["usage"] > 0
        assert stats["memory_stats"]["limit"] == 64 * 1024 * 1024
        assert stats["pids_stats"]["current"] >= 1
        assert stats["cpu_stats"]["cpu_usage"]["total_usage"] > 0
        c.kill()
        assert c.wait(timeout=10)["StatusCode"] == 137
    finally:
        c.remove(force=True)


def test_low_level_create_start_inspect(sdk) -> None:
    api = sdk.api
    info = api.create_container("busybox", ["true"], host_config=api.create_host_config(restart_policy={"Name": "no"}))
    cid = info["Id"]
    api.start(cid)
    assert api.wait(cid)["StatusCode"] == 0
    doc = api.inspect_container(cid)
    assert doc["State"]["Status"] == "exited"
    assert doc["HostConfig"]["LogConfig"]["Type"] == "json-file"
    api.remove_container(cid)


def _send_stdin(sdk, cid: str, data: bytes) -> None:  # type: ignore[no-untyped-def]
    """Attach stdin only, write, half-close (the client's EOF), hang up."""
    import socket

    sock = sdk.api.attach_socket(cid, params={"stdin": 1, "stream": 1})
    raw = sock._sock if hasattr(sock, "_sock") else sock
    raw.sendall(data)
    raw.shutdown(socket.SHUT_WR)
    time.sleep(0.3)
    raw.close()


def _logs_until(c, text: str, timeout: float = 10) -> str:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while text not in (logs := c.logs().decode()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return logs


def test_stdin_stays_open_across_attaches_unless_stdin_once(sdk) -> None:
    """OpenStdin without StdinOnce (`run -di`): one client's EOF does not close the
    container's stdin, the next attach writes on; with StdinOnce the first EOF closes it."""
    script = "while read l; do echo got $l; done; echo closed"
    c = sdk.containers.run("busybox", ["sh", "-c", script], detach=True, stdin_open=True)
    try:
        _send_stdin(sdk, c.id, b"a\n")
        assert "got a" in _logs_until(c, "got a")
        _send_stdin(sdk, c.id, b"b\n")
        logs = _logs_until(c, "got b")
        assert "got b" in logs and "closed" not in logs
        c.reload()
        assert c.status == "running"
    finally:
        c.remove(force=True)
    # the SDK sets StdinOnce for a non-detached stdin_open container
    once = sdk.api.create_container("busybox", ["sh", "-c", script], stdin_open=True)["Id"]
    assert sdk.api.inspect_container(once)["Config"]["StdinOnce"]
    try:
        sdk.api.start(once)
        _send_stdin(sdk, once, b"x\n")
        assert sdk.api.wait(once, timeout=10)["StatusCode"] == 0
        assert sdk.api.logs(once).decode() == "got x\nclosed\n"
    finally:
        sdk.api.remove_container(once, force=True)


def test_none_log_driver(sdk, docker) -> None:  # type: ignore[no-untyped-def]
    """`--log-driver none`: the container runs and attached output still flows; nothing is
    stored, so `logs` says the driver can't read (501), like Docker."""
    assert sdk.containers.run("busybox", "echo hello", log_config={"type": "none"}, remove=True) is None
    r = docker("run", "--log-driver", "none", "--rm", "busybox", "echo", "attached")
    assert r.rc == 0 and r.out == "attached\n"
    cid = docker.ok("run", "-d", "--log-driver", "none", "busybox", "echo", "x").strip()
    try:
        docker.ok("wait", cid)
        logs = docker("logs", cid)
        assert logs.rc != 0 and "configured logging driver does not support reading" in logs.err
        assert json.loads(docker.ok("inspect", cid))[0]["LogPath"] == ""
    finally:
        docker.ok("rm", cid)
