"""Debian's `docker-registry` (the CNCF reference registry, distribution 2.8) on 127.0.0.1.

A real peer for the registry client: plain HTTP on a free loopback port, storage in a temp dir,
optionally htpasswd (bcrypt) basic auth. Stopped by PID.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

BINARY = "/usr/bin/docker-registry"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def htpasswd(path: Path, users: dict[str, str]) -> None:
    lines = []
    for user, password in users.items():
        out = subprocess.run(["htpasswd", "-Bbn", user, password], capture_output=True, check=True)
        lines.append(out.stdout.decode().strip())
    path.write_text("\n".join(lines) + "\n")


class DistributionRegistry:
    def __init__(self, base: Path, users: dict[str, str] | None = None) -> None:
        self.base = base
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.users = users or {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = base / "registry.log"

    @staticmethod
    def available() -> bool:
        return shutil.which(BINARY) is not None

    def _config(self) -> Path:
        storage = self.base / "storage"
        storage.mkdir(parents=True, exist_ok=True)
        auth = ""
        if self.users:
            htpasswd(self.base / "htpasswd", self.users)
            auth = f"auth:\n  htpasswd:\n    realm: basic-realm\n    path: {self.base / 'htpasswd'}\n"
        cfg = self.base / "config.yml"
        cfg.write_text(
            "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n"
            f"storage:\n  filesystem:\n    rootdirectory: {storage}\n  delete:\n    enabled: true\n"
            f"http:\n  addr: {self.host}\n{auth}"
        )
        return cfg

    def start(self, timeout: float = 20) -> DistributionRegistry:
        logf = open(self.log, "ab")
        self.proc = subprocess.Popen([BINARY, "serve", str(self._config())], stdout=logf, stderr=logf,
                                     start_new_session=True)
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"docker-registry exited {self.proc.returncode}: {self.log.read_text()}")
            try:
                urllib.request.urlopen(f"http://{self.host}/v2/", timeout=1)
                return self
            except urllib.error.HTTPError:
                return self  # 401 with auth: it answers
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"docker-registry not ready: {self.log.read_text()}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
