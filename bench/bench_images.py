#!/usr/bin/env python3
"""Image-store figures, side by side with a real dockerd when one is installed.

    .venv/bin/python bench/bench_images.py [--load-mb 150] [--images 100] [--runs 5]

Prints: daemon start-to-ready time, `GET /images/json` and `docker images` latency with N images
stored, and `docker load` throughput of a ~150 MB image. Figures, not assertions.
Against dockerd: uses the one at /var/run/docker.sock when it answers; otherwise, if `dockerd`
is installed, starts a private one (own data root and socket, no networking) for the run.
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tools"), str(ROOT / "tests")]

import imagegen  # noqa: E402
from support.daemon import WharfieDaemon  # noqa: E402


class UnixConn(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=300)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(self.path)


def ping(sock: str) -> bool:
    try:
        c = UnixConn(sock)
        c.request("GET", "/_ping")
        ok = c.getresponse().status == 200
        c.close()
        return ok
    except OSError:
        return False


class Engine:
    """A daemon to measure: name, socket, and how to (re)start it."""

    def __init__(self, name: str, sock: str, env: dict[str, str]) -> None:
        self.name, self.sock, self.env = name, sock, env

    def docker(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(["docker", *args], env=self.env, capture_output=True, check=check)

    def api_ms(self, path: str, runs: int) -> float:
        c = UnixConn(self.sock)
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            c.request("GET", path)
            c.getresponse().read()
            times.append((time.perf_counter() - t) * 1000)
        c.close()
        return statistics.median(times)

    def cli_ms(self, args: list[str], runs: int) -> float:
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            self.docker(*args)
            times.append((time.perf_counter() - t) * 1000)
        return statistics.median(times)


def env_for(sock: str, cfg: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env.update(DOCKER_HOST=f"unix://{sock}", DOCKER_CONFIG=cfg)
    return env


def wharfie_start(runs: int, base: Path) -> list[float]:
    times = []
    d = WharfieDaemon(base / "start")
    try:
        for _ in range(runs):
            times.append(d.start())
            d.stop()
    finally:
        d.cleanup()  # its bridge and nft table too
    return times


def remove_workdir(base: Path) -> None:
    """Remove a bench's scratch dir, unmounting what dockerd left mounted under it (netns)."""
    with open("/proc/self/mountinfo") as fh:
        points = [line.split()[4] for line in fh]
    for point in sorted((m for m in points if m.startswith(str(base) + "/")), reverse=True):
        subprocess.run(["umount", "-l", point], check=False)
    subprocess.run(["rm", "-rf", str(base)], check=False)


def private_dockerd(base: Path, network: tuple[str, ...] = ("--bridge", "none", "--iptables=false"),
                    ) -> tuple[subprocess.Popen[bytes], str, float] | None:
    """A dockerd of the bench's own (socket, data root); no networking unless `network` says."""
    if not shutil.which("dockerd"):
        return None
    sock = str(base / "dockerd.sock")
    t = time.monotonic()
    proc = subprocess.Popen(["dockerd", "-H", f"unix://{sock}", "--data-root", str(base / "docker-data"),
                             "--exec-root", str(base / "docker-exec"), "--pidfile", str(base / "dockerd.pid"),
                             *network, "--storage-driver", "overlay2"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while time.monotonic() - t < 60:
        if ping(sock):
            return proc, sock, time.monotonic() - t
        time.sleep(0.02)
    proc.kill()
    return None


def make_archives(base: Path, n_images: int, load_mb: int) -> tuple[Path, Path, str]:
    many = base / "many.tar"
    images = [(imagegen.Image([imagegen.filler_layer(64, f"i{i}", seed=i)], {"Cmd": ["sh"]}), [f"bench/img{i}:1"])
              for i in range(n_images)]
    imagegen.docker_archive(images, str(many))
    big_image = imagegen.Image([imagegen.busybox_layer(), imagegen.filler_layer(load_mb << 20, "big", seed=42)],
                               {"Cmd": ["sh"]})
    big = base / "big.tar"
    imagegen.docker_archive([(big_image, ["bench/big:1"])], str(big))
    return many, big, big_image.id


def measure(engine: Engine, many: Path, big: Path, big_id: str, runs: int) -> dict[str, float]:
    engine.docker("load", "-i", str(many))
    out = {
        "images API ms": engine.api_ms("/v1.41/images/json", runs * 10),
        "docker images ms": engine.cli_ms(["images"], runs),
    }
    size_mb = big.stat().st_size / 1e6
    rates = []
    for _ in range(runs):
        engine.docker("rmi", "-f", "bench/big:1", check=False)
        t = time.perf_counter()
        engine.docker("load", "-i", str(big))
        rates.append(size_mb / (time.perf_counter() - t))
    out["load MB/s"] = statistics.median(rates)
    engine.docker("rmi", "-f", "bench/big:1", check=False)
    for i in range(1000):
        if engine.docker("rmi", f"bench/img{i}:1", check=False).returncode != 0:
            break
    return out


def print_table(results: dict[str, dict[str, float]]) -> None:
    """One row per metric, one column per engine (blank where an engine lacks the metric)."""
    keys = list(dict.fromkeys(k for r in results.values() for k in r))
    width = max([len(n) for n in results] + [10]) + 2
    print(f"{'metric':<24}" + "".join(f"{n:>{width}}" for n in results))
    for k in keys:
        print(f"{k:<24}" + "".join(f"{r.get(k, float('nan')):>{width}.1f}" for r in results.values()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--load-mb", type=int, default=150)
    ap.add_argument("--images", type=int, default=100)
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="wharfie-bench-"))
    try:
        many, big, big_id = make_archives(base, a.images, a.load_mb)
        print(f"archives: {a.images} small images; big image {big.stat().st_size / 1e6:.0f} MB")
        results: dict[str, dict[str, float]] = {}
        starts = wharfie_start(a.runs, base)
        w = WharfieDaemon(base / "w")
        w.start()
        try:
            results["wharfie"] = {"start-to-ready ms": statistics.median(starts) * 1000,
                                  **measure(Engine("wharfie", str(w.sock), w.env), many, big, big_id, a.runs)}
            rss = int(open(f"/proc/{w.proc.pid}/status").read().split("VmRSS:")[1].split()[0])  # type: ignore[union-attr]
            results["wharfie"]["daemon RSS MB"] = rss / 1024
        finally:
            w.stop()
        cfg = str(base / "docker-config")
        os.makedirs(cfg, exist_ok=True)
        if ping("/var/run/docker.sock"):
            results["dockerd"] = measure(Engine("dockerd", "/var/run/docker.sock", env_for("/var/run/docker.sock", cfg)),
                                         many, big, big_id, a.runs)
        else:
            started = private_dockerd(base)
            if started:
                proc, sock, ready = started
                try:
                    results["dockerd"] = {"start-to-ready ms": ready * 1000,
                                          **measure(Engine("dockerd", sock, env_for(sock, cfg)), many, big, big_id, a.runs)}
                finally:
                    proc.terminate()
                    proc.wait(30)
            else:
                print("dockerd: not installed (apt-get install docker.io for a side-by-side run)")
        print_table(results)
    finally:
        remove_workdir(base)


if __name__ == "__main__":
    main()
