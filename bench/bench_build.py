#!/usr/bin/env python3
"""Build figures, side by side with dockerd (legacy builder) when installed.

    .venv/bin/python bench/bench_build.py [--runs 5]

A small busybox Dockerfile (ENV, WORKDIR, COPY of 200 files, two RUNs, CMD) and the seed
scenario's examples/draw (when the python base is cached): cold build
(`--no-cache`), fully cached rebuild, and a rebuild after one source file changed.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY_BASE = Path("/var/cache/wharfie/python-3.11-slim.tar")  # tools/mkbase-python.sh makes it
sys.path[:0] = [str(ROOT / "tools"), str(ROOT / "tests"), str(ROOT / "bench")]

import imagegen  # noqa: E402
from bench_images import env_for, print_table, private_dockerd, remove_workdir  # noqa: E402
from support.daemon import WharfieDaemon  # noqa: E402

DOCKERFILE = """FROM busybox
ENV APP=/app
WORKDIR /app
COPY deps.txt .
RUN cat deps.txt > installed.txt
COPY src/ ./src/
RUN ls src | wc -l > count.txt
CMD ["cat", "/app/count.txt"]
"""


def make_context(base: Path) -> Path:
    ctx = base / "ctx"
    (ctx / "src").mkdir(parents=True)
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    (ctx / "deps.txt").write_text("one\ntwo\n")
    for i in range(200):
        (ctx / "src" / f"f{i:03d}.py").write_text(f"print({i})\n" * 20)
    return ctx


def timed(env: dict[str, str], args: list[str], runs: int, before=None) -> float:  # type: ignore[no-untyped-def]
    times = []
    for i in range(runs):
        if before:
            before(i)
        t = time.perf_counter()
        subprocess.run(["docker", "build", "-q", *args], env=env, check=True, capture_output=True)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def measure(env: dict[str, str], ctx: Path, runs: int, edit: str = "src/f000.py", cold_runs: int = 0,
            tag: str = "bench:1") -> dict[str, float]:
    args = ["--network", "host", "-t", tag, str(ctx)]
    out = {"cold build ms": timed(env, ["--no-cache", *args], cold_runs or runs)}
    out["cached rebuild ms"] = timed(env, args, runs)

    def touch(i: int) -> None:
        with (ctx / edit).open("a") as fh:
            fh.write(f"# changed {i}\n")

    out["one file changed ms"] = timed(env, args, runs, touch)
    return out


def measure_draw(env: dict[str, str], base: Path, runs: int) -> dict[str, float] | None:
    """The seed scenario's build (examples/draw on the local python:3.11-slim): one cold build
    (pip downloads numpy and matplotlib), then cached and edit-draw_quad.py rebuilds."""
    if not PY_BASE.exists():
        return None
    ctx = base / f"draw-{len(list(base.glob('draw-*')))}"
    shutil.copytree(ROOT / "examples" / "draw", ctx)
    subprocess.run(["docker", "import", "-c", 'CMD ["python3"]', str(PY_BASE), "python:3.11-slim"],
                   env=env, check=True, capture_output=True)
    return measure(env, ctx, runs, edit="draw_quad.py", cold_runs=1, tag="draw")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="wharfie-bench-"))
    archive = base / "busybox.tar"
    imagegen.docker_archive([(imagegen.busybox_image(), ["busybox:latest"])], str(archive))
    ctx = make_context(base)
    results: dict[str, dict[str, float]] = {}
    draw: dict[str, dict[str, float] | None] = {}
    try:
        w = WharfieDaemon(base / "w")
        w.start()
        try:
            w.docker.ok("load", "-i", str(archive))
            results["wharfie"] = measure(w.env, ctx, a.runs)
            draw["wharfie"] = measure_draw(w.env, base, a.runs)
        finally:
            w.cleanup()
        started = private_dockerd(base) if shutil.which("dockerd") else None
        if started:
            proc, sock, _ = started
            env = env_for(sock, str(base / "docker-config"))
            env["DOCKER_BUILDKIT"] = "0"
            try:
                subprocess.run(["docker", "load", "-i", str(archive)], env=env, check=True, capture_output=True)
                results["dockerd"] = measure(env, ctx, a.runs)
                draw["dockerd"] = measure_draw(env, base, a.runs)
            finally:
                proc.terminate()
                proc.wait(30)
        else:
            print("dockerd: not installed (apt-get install docker.io for a side-by-side run)")
        print("busybox Dockerfile, 200 source files:")
        print_table(results)
        if draw.get("wharfie") is None:
            print(f"examples/draw: skipped, no {PY_BASE} (make it with tools/mkbase-python.sh)")
        else:
            print("examples/draw (the seed scenario's build):")
            print_table({k: v for k, v in draw.items() if v is not None})
    finally:
        remove_workdir(base)


if __name__ == "__main__":
    main()
