#!/usr/bin/env python3
"""Networking figures, side by side with dockerd when it is installed.

    .venv/bin/python bench/bench_network.py [--requests 1000] [--concurrency 100] [--mb 64] [--runs 10]

Through a port published on 127.0.0.1 to a busybox httpd in a container on the default bridge:
connection rate (N sequential short HTTP requests, a new connection each), the same requests
C at a time, and bulk throughput (one large file). Then `run --rm busybox true` on the default
network (namespace, veth, address, NAT rules, teardown). Loopback only; figures, not assertions.

wharfie publishes with nftables DNAT; dockerd (default settings) answers 127.0.0.1 through its
docker-proxy userland proxy. The dockerd here gets a bridge of its own (`whbdock0`), so it
never touches docker0 or another daemon's bridge.
"""

from __future__ import annotations

import argparse
import http.client
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tools"), str(ROOT / "tests"), str(ROOT / "bench")]

import imagegen  # noqa: E402
from bench_images import env_for, print_table, private_dockerd, remove_workdir  # noqa: E402
from support.daemon import WharfieDaemon  # noqa: E402
from support.distribution import free_port  # noqa: E402

HTTPD = ["sh", "-c", "mkdir -p /www && echo ok > /www/small && dd if=/dev/zero of=/www/big bs=1M count=$MB "
         "2>/dev/null && exec httpd -f -p 80 -h /www"]
DOCKER_BRIDGE = "whbdock0"
DOCKER_BIP = "10.199.0.1/24"


def get(port: int, path: str) -> int:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        c.request("GET", path)
        r = c.getresponse()
        n = 0
        while chunk := r.read(1 << 20):
            n += len(chunk)
        if r.status != 200:
            raise RuntimeError(f"HTTP {r.status}")
        return n
    finally:
        c.close()


def wait_ready(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            get(port, "/small")
            return
        except (OSError, RuntimeError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def measure(env: dict[str, str], requests: int, concurrency: int, mb: int, runs: int) -> dict[str, float]:
    res: dict[str, float] = {}
    port = free_port()
    cid = subprocess.run(["docker", "run", "-d", "-e", f"MB={mb}", "-p", f"127.0.0.1:{port}:80", "busybox", *HTTPD],
                         env=env, check=True, capture_output=True, text=True).stdout.strip()
    try:
        wait_ready(port)
        t = time.perf_counter()
        for _ in range(requests):
            get(port, "/small")
        res["sequential req/s"] = requests / (time.perf_counter() - t)
        with ThreadPoolExecutor(concurrency) as pool:
            t = time.perf_counter()
            list(pool.map(lambda _: get(port, "/small"), range(requests)))
            res[f"{concurrency} concurrent req/s"] = requests / (time.perf_counter() - t)
        speeds = []
        for _ in range(3):
            t = time.perf_counter()
            n = get(port, "/big")
            speeds.append(n / (time.perf_counter() - t) / 1e6)
        res["bulk MB/s"] = statistics.median(speeds)
    finally:
        subprocess.run(["docker", "rm", "-f", cid], env=env, capture_output=True)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(["docker", "run", "--rm", "busybox", "true"], env=env, check=True, capture_output=True)
        times.append((time.perf_counter() - t) * 1000)
    res["run --rm (bridge) ms"] = statistics.median(times)
    return res


def private_dockerd_with_bridge(base: Path) -> tuple[subprocess.Popen[bytes], str] | None:
    """dockerd on a bridge of its own (dockerd's `--bridge` adopts an existing one)."""
    if not shutil.which("dockerd"):
        return None
    subprocess.run(["ip", "link", "add", DOCKER_BRIDGE, "type", "bridge"], capture_output=True)
    subprocess.run(["ip", "addr", "replace", DOCKER_BIP, "dev", DOCKER_BRIDGE], check=True)
    subprocess.run(["ip", "link", "set", DOCKER_BRIDGE, "up"], check=True)
    started = private_dockerd(base, ("--bridge", DOCKER_BRIDGE))
    return started[:2] if started else None


def drop_docker_rules() -> None:
    """dockerd leaves its iptables rules behind on exit: remove those naming our bridge/subnet."""
    import ipaddress

    subnet = str(ipaddress.IPv4Interface(DOCKER_BIP).network)
    for table in ("filter", "nat"):
        out = subprocess.run(["iptables", "-t", table, "-S"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if line.startswith("-A ") and (DOCKER_BRIDGE in line or subnet in line):
                subprocess.run(["iptables", "-t", table, "-D", *line.split()[1:]], capture_output=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=100)
    ap.add_argument("--mb", type=int, default=64)
    ap.add_argument("--runs", type=int, default=10)
    a = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="wharfie-bench-net-"))
    archive = base / "busybox.tar"
    imagegen.docker_archive([(imagegen.busybox_image(), ["busybox:latest"])], str(archive))
    results: dict[str, dict[str, float]] = {}
    try:
        w = WharfieDaemon(base / "w")
        w.start()
        try:
            w.docker.ok("load", "-i", str(archive))
            results["wharfie"] = measure(w.env, a.requests, a.concurrency, a.mb, a.runs)
        finally:
            w.cleanup()
        started = private_dockerd_with_bridge(base)
        if started:
            proc, sock = started
            env = env_for(sock, str(base / "docker-config"))
            try:
                subprocess.run(["docker", "load", "-i", str(archive)], env=env, check=True, capture_output=True)
                results["dockerd"] = measure(env, a.requests, a.concurrency, a.mb, a.runs)
            finally:
                subprocess.run(["docker", "rm", "-f", *subprocess.run(["docker", "ps", "-aq"], env=env, text=True,
                                capture_output=True).stdout.split()], env=env, capture_output=True)
                proc.terminate()
                proc.wait(30)
                subprocess.run(["ip", "link", "del", DOCKER_BRIDGE], capture_output=True)
                drop_docker_rules()
        else:
            print("dockerd: not installed (apt-get install docker.io for a side-by-side run)")
        print(f"{a.requests} requests, {a.concurrency} at a time, bulk {a.mb} MB, through 127.0.0.1:PORT")
        print_table(results)
    finally:
        remove_workdir(base)


if __name__ == "__main__":
    main()
