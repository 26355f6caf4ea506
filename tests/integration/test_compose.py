"""A real client scenario: Debian's docker-compose (1.29, on the docker SDK) runs a project
against wharfied — project network with service-name DNS, a named volume shared by two
services, a published port, a health check, depends_on, exec, logs, and `down -v`."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from support.daemon import WharfieDaemon

COMPOSE = """\
version: "3.8"
services:
  web:
    image: busybox
    command: ["httpd", "-f", "-p", "80", "-h", "/www"]
    volumes: ["www:/www"]
    ports: ["127.0.0.1:{port}:80"]
    healthcheck:
      test: ["CMD", "true"]
      interval: 1s
  seed:
    image: busybox
    command: ["sh", "-c", "echo hello-compose > /www/index.html"]
    volumes: ["www:/www"]
  client:
    image: busybox
    depends_on: [web]
    command: ["sh", "-c", "nslookup web | awk '/^Address: /{{print $$2}}' | tail -1 > /tmp/ip; sleep 300"]
volumes:
  www: {{}}
"""


@pytest.fixture(scope="module", autouse=True)
def busybox(daemon: WharfieDaemon, busybox_archive: Path) -> None:
    daemon.docker.ok("load", "-i", str(busybox_archive))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_compose_project(daemon: WharfieDaemon, tmp_path: Path) -> None:
    port = _free_port()
    (tmp_path / "docker-compose.yml").write_text(COMPOSE.format(port=port))

    def compose(*args: str) -> str:
        p = subprocess.run(["docker-compose", "-p", "demo", *args], cwd=tmp_path, env=daemon.env,
                           capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr
        return p.stdout

    try:
        compose("up", "-d")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            ps = compose("ps")
            if "(healthy)" in ps and "Exit 0" in ps:
                break
            time.sleep(0.2)
        assert "demo_web_1" in ps and "Up (healthy)" in ps and f"127.0.0.1:{port}->80/tcp" in ps
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as resp:
            assert resp.read() == b"hello-compose\n"  # the seed service wrote it into the shared volume
        web_ip = daemon.docker.ok("inspect", "-f", "{{(index .NetworkSettings.Networks \"demo_default\").IPAddress}}",
                                  "demo_web_1").strip()
        deadline = time.monotonic() + 10
        resolved = ""
        while time.monotonic() < deadline and not resolved:
            resolved = compose("exec", "-T", "client", "cat", "/tmp/ip").strip()
            time.sleep(0.2)
        assert resolved == web_ip  # service names resolve on the project network
        assert compose("exec", "-T", "web", "cat", "/www/index.html") == "hello-compose\n"
    finally:
        compose("down", "-v")
    assert "demo_default" not in daemon.docker.ok("network", "ls")
    assert "demo_www" not in daemon.docker.ok("volume", "ls")
