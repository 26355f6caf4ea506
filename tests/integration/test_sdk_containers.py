"""The docker SDK for Python against wharfied: containers.run, exec_run, logs, wait, stats."""

from __future__ import annotations

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
