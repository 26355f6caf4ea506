#!/usr/bin/env python3
"""Container figures, side by side with dockerd and podman when installed.

    .venv/bin/python bench/bench_containers.py [--runs 10] [--ps-containers 50]

Prints, per engine: `run --rm --network none busybox true`, `run -d`, `exec true` (median ms),
`ps` with N running containers, memory per idle container (shim PSS for wharfie; the
containerd-shim/conmon PSS for the others) and daemon RSS. Figures, not assertions.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tools"), str(ROOT / "tests"), str(ROOT / "bench")]

import imagegen  # noqa: E402
from bench_images import env_for, print_table, private_dockerd, remove_workdir  # noqa: E402
from support.daemon import WharfieDaemon  # noqa: E402


def timed(argv: list[str], env: dict[str, str] | None, runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(argv, env=env, check=True, capture_output=True)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def pss_kb(pid: int) -> int:
    try:
        for line in open(f"/proc/{pid}/smaps_rollup"):
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_kb(pid: int) -> int:
    try:
        return int(open(f"/proc/{pid}/status").read().split("VmRSS:")[1].split()[0])
    except (OSError, IndexError):
        return 0


def pids_matching(fragment: str) -> list[int]:
    out = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                if fragment.encode() in open(f"/proc/{p}/cmdline", "rb").read():
                    out.append(int(p))
            except OSError:
                pass
    return out


def wharfie_shims(w: WharfieDaemon) -> list[int]:
    """Shims fork from the zygote, so find them by the pid files in their state dirs."""
    out = []
    for pidfile in (w.exec_root / "containers").glob("*/shim.pid"):
        try:
            out.append(int(pidfile.read_text()))
        except (OSError, ValueError):
            pass
    return out


def measure(cli: list[str], env: dict[str, str] | None, runs: int, n_ps: int,
            shim_pids: Callable[[], list[int]], run_args: tuple[str, ...] = ()) -> dict[str, float]:
    res: dict[str, float] = {}
    res["run --rm ms"] = timed([*cli, "run", *run_args, "--rm", "--network", "none", "busybox", "true"], env, runs)
    ids = []
    t_runs = []
    for _ in range(n_ps):
        t = time.perf_counter()
        p = subprocess.run([*cli, "run", *run_args, "-d", "--network", "none", "busybox", "sleep", "1000"], env=env,
                           capture_output=True, text=True, check=True)
        t_runs.append((time.perf_counter() - t) * 1000)
        ids.append(p.stdout.strip())
    res["run -d ms"] = statistics.median(t_runs)
    res["exec true ms"] = timed([*cli, "exec", ids[0], "true"], env, runs)
    res[f"ps ({n_ps} running) ms"] = timed([*cli, "ps"], env, runs)
    time.sleep(1)
    shims = shim_pids()
    if shims:
        res["shim PSS KiB/ctr"] = sum(pss_kb(p) for p in shims) / max(1, len(ids))
    subprocess.run([*cli, "rm", "-f", *ids], env=env, capture_output=True)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--ps-containers", type=int, default=50)
    a = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="wharfie-bench-"))
    archive = base / "busybox.tar"
    imagegen.docker_archive([(imagegen.busybox_image(), ["busybox:latest"])], str(archive))
    results: dict[str, dict[str, float]] = {}
    try:
        w = WharfieDaemon(base / "w")
        w.start()
        try:
            w.docker.ok("load", "-i", str(archive))
            results["wharfie"] = measure(["docker"], w.env, a.runs, a.ps_containers, lambda: wharfie_shims(w))
            if shutil.which("runc"):  # the same bundles through runc, for comparison
                results["wharfie+runc"] = measure(["docker"], w.env, a.runs, min(a.ps_containers, 20),
                                                  lambda: wharfie_shims(w), ("--runtime", "runc"))
            assert w.proc is not None
            results["wharfie"]["daemon RSS KiB"] = rss_kb(w.proc.pid)
            zygotes = pids_matching("wharfie.runtime.zygote")
            if zygotes:
                results["wharfie"]["zygote PSS KiB"] = pss_kb(zygotes[0])
        finally:
            w.cleanup()
        started = private_dockerd(base) if shutil.which("dockerd") else None
        if started:
            proc, sock, _ = started
            env = env_for(sock, str(base / "docker-config"))
            try:
                subprocess.run(["docker", "load", "-i", str(archive)], env=env, check=True, capture_output=True)
                results["dockerd"] = measure(["docker"], env, a.runs, a.ps_containers,
                                             lambda: pids_matching("containerd-shim"))
                results["dockerd"]["daemon RSS KiB"] = rss_kb(proc.pid)
            finally:
                proc.terminate()
                proc.wait(30)
        else:
            print("dockerd: not installed (apt-get install docker.io for a side-by-side run)")
        if shutil.which("podman"):
            root = base / "podman"
            cli = ["podman", "--root", str(root / "root"), "--runroot", str(root / "run"), "--cgroup-manager", "cgroupfs"]
            try:
                subprocess.run([*cli, "load", "-i", str(archive)], check=True, capture_output=True)
                # --ulimit host: root here lacks CAP_SYS_RESOURCE, podman's default rlimits fail
                results["podman"] = measure(cli, None, a.runs, min(a.ps_containers, 20),
                                            lambda: pids_matching("conmon"), ("--ulimit", "host"))
            except subprocess.CalledProcessError as e:
                print(f"podman: failed: {e.stderr.decode(errors='replace').strip()[:200]}")
            finally:
                subprocess.run([*cli, "rm", "-af"], capture_output=True)
        print_table(results)
        if "dockerd" in results:
            ratio = results["wharfie"]["run --rm ms"] / results["dockerd"]["run --rm ms"]
            print(f"run --rm: wharfie/docker = {ratio:.2f}x (goal <= 0.35x)")
    finally:
        remove_workdir(base)


if __name__ == "__main__":
    main()
