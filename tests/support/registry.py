"""Run `wharfie registry serve` (a real process on a free loopback port) for tests.

    from support.registry import RegistryServer, registry_server   # noqa: F401 (the fixture)

    def test_push(registry_server):                 # a fresh plain-HTTP registry per test
        registry_server.host                        # "127.0.0.1:PORT", for image references
        registry_server.url                         # "http://127.0.0.1:PORT"

    with RegistryServer(tmp_path / "reg", htpasswd=path, tls=(cert, key)) as reg:
        ...                                         # any options; stopped (and reaped) on exit

The server binds port 0 and prints the address it got, so there is no port race. `stop()`
sends SIGTERM, `kill()` SIGKILL (crash tests); `start()` again reuses the same root.
`make_htpasswd()` and `make_cert()` create credentials and a self-signed certificate.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


class RegistryServer:
    def __init__(self, base: Path, htpasswd: Path | None = None,
                 tls: tuple[Path, Path] | None = None, extra_args: list[str] | None = None) -> None:
        self.base = Path(base)
        self.root = self.base / "root"
        self.log = self.base / "registry.log"
        self.htpasswd, self.tls = htpasswd, tls
        self.extra_args = extra_args or []
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.host = ""

    def argv(self) -> list[str]:
        argv = [str(BIN / "wharfie"), "registry", "serve", "--listen", "127.0.0.1:0",
                "--root", str(self.root), *self.extra_args]
        if self.htpasswd:
            argv += ["--htpasswd", str(self.htpasswd)]
        if self.tls:
            argv += ["--tls-cert", str(self.tls[0]), "--tls-key", str(self.tls[1])]
        return argv

    def start(self, timeout: float = 15) -> RegistryServer:
        self.base.mkdir(parents=True, exist_ok=True)
        logf = open(self.log, "ab")
        self.proc = subprocess.Popen(self.argv(), stdout=subprocess.PIPE, stderr=logf,
                                     start_new_session=True)
        logf.close()
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline().decode() if ready else ""
        if not line.startswith("listening on "):
            self.kill()
            raise RuntimeError(f"registry did not start:\n{line}{self.log.read_text()}")
        self.url = line.split()[-1]
        self.host = self.url.split("://", 1)[1]
        return self

    def _signal(self, sig: int, timeout: float) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        rc = self.proc.returncode
        if self.proc.stdout:
            self.proc.stdout.close()
        self.proc = None
        return rc

    def stop(self, timeout: float = 10) -> int | None:
        return self._signal(signal.SIGTERM, timeout)

    def kill(self) -> int | None:
        return self._signal(signal.SIGKILL, 5)

    def __enter__(self) -> RegistryServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@pytest.fixture
def registry_server(tmp_path: Path) -> Iterator[RegistryServer]:
    """A fresh plain-HTTP `wharfie registry serve` on 127.0.0.1; stopped even on failure."""
    reg = RegistryServer(tmp_path / "registry")
    reg.start()
    try:
        yield reg
    finally:
        reg.stop()


def make_htpasswd(path: Path, user: str, password: str) -> Path:
    """A bcrypt htpasswd file as `htpasswd -B` writes it (made with the bcrypt package)."""
    import bcrypt

    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=5)).decode()
    path.write_text(f"{user}:{hashed.replace('$2b$', '$2y$', 1)}\n")
    return path


def make_cert(directory: Path, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """A self-signed certificate for `host` (an IP SAN), with openssl."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", f"/CN={host}", "-addext", f"subjectAltName=IP:{host}",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key
