#!/usr/bin/env python3
"""Registry figures: the same ~150 MB image pushed to and pulled from a loopback registry.

    .venv/bin/python bench/bench_registry.py [--size-mb 150] [--runs 3]

Server side: `skopeo copy` (the same client for both) against `wharfie registry serve` and
against Debian's `docker-registry` (the CNCF reference registry, when installed). The image is
prepared once as an OCI layout with gzip layers, so skopeo only moves bytes (no recompression
in the timed part). Each run starts from an empty registry root (cold push) and pulls into an
empty OCI layout (cold pull).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tools"), str(ROOT / "tests"), str(ROOT / "bench")]

import imagegen  # noqa: E402
from bench_images import print_table  # noqa: E402
from support.registry import RegistryServer  # noqa: E402


def make_layout(base: Path, size_mb: int) -> Path:
    """An OCI layout dir (tag `big`): busybox + random data (gzip cannot shrink it), compressed
    once here so the timed copies move the same bytes for both registries."""
    data = imagegen.TarBuilder().dir("data")
    for i in range(size_mb):
        data.file(f"data/f{i:04d}", os.urandom(1 << 20))
    image = imagegen.Image([imagegen.busybox_layer(), imagegen.Layer(data.bytes(), "ADD data")],
                           {"Cmd": ["sh"]})
    archive, layout = base / "big-oci.tar", base / "layout"
    imagegen.oci_archive(image, str(archive), ref_name="big", compress=True)
    layout.mkdir()
    with tarfile.open(archive) as tf:
        tf.extractall(layout, filter="data")
    archive.unlink()
    return layout


def skopeo_copy(src: str, dst: str) -> float:
    t0 = time.monotonic()
    subprocess.run(["skopeo", "--insecure-policy", "copy", "--src-tls-verify=false",
                    "--dest-tls-verify=false", "-q", src, dst], check=True)
    return time.monotonic() - t0


def push_pull(host: str, layout: Path, scratch: Path, run: int) -> tuple[float, float]:
    ref = f"docker://{host}/bench/big:latest"
    push = skopeo_copy(f"oci:{layout}:big", ref)
    out = scratch / f"pulled-{run}"
    pull = skopeo_copy(ref, f"oci:{out}:big")
    shutil.rmtree(out)
    return push, pull


def blob_mb(layout: Path) -> float:
    return sum(p.stat().st_size for p in (layout / "blobs" / "sha256").iterdir()) / 1e6


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def figures(pushes: list[float], pulls: list[float], mb: float) -> dict[str, float]:
    push, pull = statistics.median(pushes), statistics.median(pulls)
    return {"cold push s": push, "cold pull s": pull, "push MB/s": mb / push, "pull MB/s": mb / pull}


def bench_wharfie(layout: Path, base: Path, runs: int) -> dict[str, float]:
    pushes, pulls = [], []
    for i in range(runs):
        with RegistryServer(base / f"wharfie-{i}") as reg:
            push, pull = push_pull(reg.host, layout, base, i)
        pushes.append(push)
        pulls.append(pull)
        shutil.rmtree(base / f"wharfie-{i}")
    return figures(pushes, pulls, blob_mb(layout))


def bench_reference(layout: Path, base: Path, runs: int) -> dict[str, float]:
    pushes, pulls = [], []
    for i in range(runs):
        root, port = base / f"reference-{i}", free_port()
        root.mkdir()
        config = root / "config.yml"
        config.write_text(f"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n"
                          f"    rootdirectory: {root / 'data'}\nhttp:\n  addr: 127.0.0.1:{port}\n")
        proc = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            _wait_port(port)
            push, pull = push_pull(f"127.0.0.1:{port}", layout, base, i)
        finally:
            proc.terminate()
            proc.wait(10)
        pushes.append(push)
        pulls.append(pull)
        shutil.rmtree(root)
    return figures(pushes, pulls, blob_mb(layout))


def _wait_port(port: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"registry on port {port} did not start")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mb", type=int, default=150)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    if not shutil.which("skopeo"):
        sys.exit("bench_registry needs skopeo (apt-get install skopeo)")
    base = Path(tempfile.mkdtemp(prefix="wharfie-bench-registry-"))
    try:
        layout = make_layout(base, a.size_mb)
        print(f"image: {blob_mb(layout):.0f} MB of blobs (gzip layers); skopeo copy, median of {a.runs}")
        results = {"wharfie registry": bench_wharfie(layout, base, a.runs)}
        if shutil.which("docker-registry"):
            results["docker-registry"] = bench_reference(layout, base, a.runs)
        print_table(results)
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
