"""The wharfie CLI's network commands against wharfied, checked against the docker CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.daemon import WharfieDaemon


@pytest.fixture(scope="module", autouse=True)
def busybox(daemon: WharfieDaemon, busybox_archive: Path) -> None:
    daemon.docker.ok("load", "-i", str(busybox_archive))


def test_network_commands_match_docker(daemon: WharfieDaemon) -> None:
    w, docker = daemon.wharfie, daemon.docker
    nid = w.ok("network", "create", "--label", "a=b", "--internal", "wnet").strip()
    try:
        assert len(nid) == 64
        for args in (["network", "ls"], ["network", "ls", "-q", "--filter", "type=custom"],
                     ["network", "ls", "--format", "{{.Name}} {{.Driver}} {{.Internal}} {{.Labels}}"],
                     ["network", "inspect", "-f", "{{.Name}} {{.Internal}} {{json .Labels}}", "wnet"]):
            assert w.ok(*args) == docker.ok(*args), args
        assert json.loads(w.ok("network", "inspect", "wnet")) == json.loads(docker.ok("network", "inspect", "wnet"))
        w.ok("run", "-d", "--name", "wc1", "busybox", "sleep", "300")
        w.ok("network", "connect", "--alias", "one", "wnet", "wc1")
        ep = json.loads(w.ok("inspect", "wc1"))[0]["NetworkSettings"]["Networks"]["wnet"]
        assert ep["Aliases"] == ["one"] and ep["IPAddress"]
        assert f"inet {ep['IPAddress']}/" in w.ok("exec", "wc1", "ip", "-4", "addr", "show", "eth1")
        w.ok("network", "disconnect", "wnet", "wc1")
        assert "eth1" not in w.ok("exec", "wc1", "ip", "link")
        r = w("network", "rm", "bridge")
        assert r.rc == 1 and "pre-defined network and cannot be removed" in r.err
        r = w("network", "rm", "nonesuch")
        assert r.rc == 1 and "not found" in r.err
        assert w("network", "rm", "-f", "nonesuch").rc == 0
    finally:
        w("rm", "-f", "wc1")
    assert "Deleted Networks:\nwnet\n" in w.ok("network", "prune", "-f")
    assert "wnet" not in w.ok("network", "ls")


def test_run_publish_and_port(daemon: WharfieDaemon) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    w = daemon.wharfie
    w.ok("run", "-d", "--name", "wp", "-p", f"127.0.0.1:{port}:80", "--expose", "90", "-P", "busybox",
         "httpd", "-f", "-p", "80")
    try:
        assert w.ok("port", "wp", "80") == f"127.0.0.1:{port}\n"
        ports = w.ok("ps", "--filter", "name=wp", "--format", "{{.Ports}}").strip()
        assert ports == daemon.docker.ok("ps", "--filter", "name=wp", "--format", "{{.Ports}}").strip()
        assert f"127.0.0.1:{port}->80/tcp" in ports and "->90/tcp" in ports
    finally:
        w("rm", "-f", "wp")
