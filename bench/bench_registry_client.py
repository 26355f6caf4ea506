#!/usr/bin/env python3
"""Registry client figures: cold push and cold pull of a ~150 MB image through the engine.

    .venv/bin/python bench/bench_registry_client.py [--size-mb 150] [--runs 3]

The docker CLI drives wharfied (and dockerd, side by side, when `dockerd` is installed:
`apt-get install docker.io`) against Debian's `docker-registry` on 127.0.0.1. The image is
busybox plus `size-mb` of random data (gzip cannot shrink it, so the bytes really move). Each
run pushes to an empty registry (cold push: every layer compressed and uploaded), then removes
the image from the engine and pulls it back (cold pull: every layer downloaded, verified and
unpacked). Figures, not assertions. (`bench_registry.py` measures the registry *server*.)
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tools"), str(ROOT / "tests"), str(ROOT / "bench")]

import imagegen  # noqa: E402
from bench_images import Engine, env_for, ping, print_table, private_dockerd, remove_workdir  # noqa: E402
from support.daemon import WharfieDaemon  # noqa: E402
from support.distribution import DistributionRegistry  # noqa: E402


def make_archive(base: Path, size_mb: int) -> Path:
    data = imagegen.TarBuilder().dir("data")
    for i in range(size_mb):
        data.file(f"data/f{i:04d}", os.urandom(1 << 20))
    image = imagegen.Image([imagegen.busybox_layer(), imagegen.Layer(data.bytes(), "ADD data")], {"Cmd": ["sh"]})
    path = base / "big.tar"
    imagegen.docker_archive([(image, ["bench/big:1"])], str(path))
    return path


def timed(engine: Engine, *args: str) -> float:
    t = time.perf_counter()
    r = engine.docker(*args, check=False)
    if r.returncode:
        raise RuntimeError(f"{engine.name}: docker {' '.join(args)}: {r.stderr.decode()}")
    return time.perf_counter() - t


def measure(engine: Engine, archive: Path, base: Path, runs: int) -> dict[str, float]:
    engine.docker("load", "-i", str(archive))
    pushes, pulls = [], []
    for i in range(runs):
        reg = DistributionRegistry(base / f"reg-{engine.name}-{i}")
        reg.base.mkdir(parents=True)
        reg.start()
        try:
            name = f"{reg.host}/bench/big:1"
            engine.docker("tag", "bench/big:1", name)
            pushes.append(timed(engine, "push", name))
            engine.docker("rmi", name, "bench/big:1")
            engine.docker("image", "prune", "-f")
            pulls.append(timed(engine, "pull", name))
            engine.docker("tag", name, "bench/big:1")
            engine.docker("rmi", name)
        finally:
            reg.stop()
    return {"cold push s": statistics.median(pushes), "cold pull s": statistics.median(pulls)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mb", type=int, default=150)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    if not DistributionRegistry.available():
        sys.exit("docker-registry is not installed (apt-get install docker-registry)")
    base = Path(tempfile.mkdtemp(prefix="wharfie-bench-registry-"))
    try:
        archive = make_archive(base, a.size_mb)
        print(f"image: busybox + {a.size_mb} MB of random data ({archive.stat().st_size / 1e6:.0f} MB archive)")
        results: dict[str, dict[str, float]] = {}
        w = WharfieDaemon(base / "w")
        w.start()
        try:
            results["wharfie"] = measure(Engine("wharfie", str(w.sock), w.env), archive, base, a.runs)
        finally:
            w.cleanup()
        cfg = str(base / "docker-config")
        os.makedirs(cfg, exist_ok=True)
        if ping("/var/run/docker.sock"):
            sock = "/var/run/docker.sock"
            results["dockerd"] = measure(Engine("dockerd", sock, env_for(sock, cfg)), archive, base, a.runs)
        elif (started := private_dockerd(base)) is not None:
            proc, sock, _ = started
            try:
                results["dockerd"] = measure(Engine("dockerd", sock, env_for(sock, cfg)), archive, base, a.runs)
            finally:
                proc.terminate()
                proc.wait(30)
        else:
            print("dockerd: not installed (apt-get install docker.io for a side-by-side run)")
        print_table(results)
        if "dockerd" in results:
            for k in results["wharfie"]:
                print(f"{k}: wharfie/dockerd = {results['wharfie'][k] / results['dockerd'][k]:.2f}")
    finally:
        subprocess.run(["sync"], check=False)
        remove_workdir(base)


if __name__ == "__main__":
    main()
