"""Start and stop a real wharfied, and run the real docker CLI / wharfie CLI against it."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

DOCKER = "/usr/local/bin/docker"
BIN = Path(sys.executable).parent


@dataclass
class Result:
    rc: int
    out: str
    err: str

    def ok(self) -> Result:
        assert self.rc == 0, f"exit {self.rc}\nstdout: {self.out}\nstderr: {self.err}"
        return self

    def json(self):  # type: ignore[no-untyped-def]
        return json.loads(self.out)


class CLI:
    def __init__(self, argv0: list[str], env: dict[str, str]) -> None:
        self.argv0, self.env = argv0, env

    def __call__(self, *args: str, input: bytes | str | None = None, timeout: float = 120) -> Result:
        data = input.encode() if isinstance(input, str) else input
        p = subprocess.run(self.argv0 + list(args), input=data, capture_output=True, env=self.env,
                           timeout=timeout)
        return Result(p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace"))

    def ok(self, *args: str, **kw) -> str:  # type: ignore[no-untyped-def]
        return self(*args, **kw).ok().out


class WharfieDaemon:
    def __init__(self, base: Path, extra_args: list[str] | None = None) -> None:
        self.base = base
        self.data_root = base / "data"
        self.exec_root = base / "exec"
        self.sock = base / "wharfie.sock"
        self.pidfile = base / "wharfied.pid"
        self.config = base / "daemon.json"
        self.log = base / "wharfied.log"
        self.extra_args = extra_args or []
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = f"unix://{self.sock}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
        env.update(DOCKER_HOST=self.url, DOCKER_CONFIG=str(base / "docker-config"))
        os.makedirs(base / "docker-config", exist_ok=True)
        self.env = env
        self.docker = CLI([DOCKER], env)
        self.wharfie = CLI([str(BIN / "wharfie")], env)

    def network_config(self) -> dict[str, object]:
        """A bridge name, bridge subnet and address pool of this daemon's own (derived from its
        base dir), so test daemons running side by side never share a bridge or an nft table."""
        import hashlib

        h = hashlib.sha256(str(self.base).encode()).digest()
        return {"bridge": f"wht{h[:4].hex()}"[:15], "bip": f"10.{64 + h[4] % 64}.{h[5]}.1/24",
                "default-address-pools": [{"base": f"10.{128 + h[6] % 64}.0.0/16", "size": 24}]}

    @property
    def bridge(self) -> str:
        try:
            return str(json.loads(self.config.read_text()).get("bridge") or "wharfie0")
        except (OSError, ValueError):
            return str(self.network_config()["bridge"])

    def argv(self) -> list[str]:
        """A test's own daemon.json keeps its keys; the network ones are added unless it set them."""
        try:
            cfg = json.loads(self.config.read_text())
        except (OSError, ValueError):
            cfg = {}
        if isinstance(cfg, dict) and not any(k in cfg for k in ("bridge", "bip", "default-address-pools")):
            self.config.parent.mkdir(parents=True, exist_ok=True)
            self.config.write_text(json.dumps({**self.network_config(), **cfg}))
        return [str(BIN / "wharfied"), "-H", self.url, "--data-root", str(self.data_root),
                "--exec-root", str(self.exec_root), "--pidfile", str(self.pidfile),
                "--config-file", str(self.config), "--debug", *self.extra_args]

    def start(self, timeout: float = 20) -> float:
        """Start and wait until /_ping answers; returns seconds to ready."""
        t0 = time.monotonic()
        logf = open(self.log, "ab")
        self.proc = subprocess.Popen(self.argv(), stdout=logf, stderr=logf, start_new_session=True)
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"wharfied exited {self.proc.returncode}:\n{self.log.read_text()}")
            if self.ping():
                return time.monotonic() - t0
            time.sleep(0.02)
        raise RuntimeError(f"wharfied not ready after {timeout}s:\n{self.log.read_text()}")

    def ping(self) -> bool:
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(2)
                s.connect(str(self.sock))
                s.sendall(b"GET /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                return s.recv(64).startswith(b"HTTP/1.1 200")
        except OSError:
            return False

    def cleanup(self) -> None:
        """Remove every container (live restore would keep them running past the daemon), then
        make sure no shim, process or mount of ours survives."""
        if self.proc is not None and self.ping():
            ids = self.docker("ps", "-aq").out.split()
            if ids:
                self.docker("rm", "-f", *ids)
            self.docker("network", "prune", "-f")
        bridges = self.bridges()
        self.stop()
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                cmdline = open(f"/proc/{pid}/cmdline", "rb").read()
            except OSError:
                continue
            if str(self.exec_root).encode() in cmdline:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
        mounts = [line.split()[4] for line in open("/proc/self/mountinfo")]
        for m in sorted((m for m in mounts if m.startswith(str(self.base))), key=len, reverse=True):
            subprocess.run(["umount", "-l", m], capture_output=True)
        for br in bridges:  # the default bridge and any user network's left behind, and our nft table
            subprocess.run(["ip", "link", "del", br], capture_output=True)
        from wharfie.network import nat
        from wharfie.network.service import NetSettings

        with contextlib.suppress(Exception):  # (none there: the daemon removed it, or never made it)
            nat.delete(NetSettings(bridge=self.bridge).table)

    def bridges(self) -> list[str]:
        """Bridges this daemon made: its default one, and those of its user networks."""
        import sqlite3

        out = [self.bridge]
        db = self.data_root / "network" / "network.db"
        if db.exists():  # read the records directly: works when the daemon has crashed too
            conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
            try:
                for (doc,) in conn.execute("SELECT doc FROM networks"):
                    name = json.loads(doc).get("_bridge")
                    if name:
                        out.append(name)
            except sqlite3.Error:
                pass
            finally:
                conn.close()
        return list(dict.fromkeys(out))

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode
        self.proc = None
        return rc

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        """A raw HTTP request over the socket (for API-level assertions)."""
        import http.client

        class Conn(http.client.HTTPConnection):
            def connect(inner) -> None:  # type: ignore[no-untyped-def]
                inner.sock = socket.socket(socket.AF_UNIX)
                inner.sock.connect(str(self.sock))

        c = Conn("localhost", timeout=60)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            c.close()
