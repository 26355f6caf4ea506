"""The seed scenario end to end: build examples/draw on a local python:3.11-slim and run it
with a bind mount; the plot appears on the host — through the wharfie CLI and the docker CLI."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from support.daemon import WharfieDaemon

ROOT = Path(__file__).resolve().parents[2]
BASE_CACHE = Path("/var/cache/wharfie/python-3.11-slim.tar")


@pytest.fixture(scope="module")
def python_base(daemon: WharfieDaemon) -> None:
    """The debootstrap base (minutes the first time on a machine, cached outside the repo)."""
    if not BASE_CACHE.exists():
        BASE_CACHE.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([str(ROOT / "tools" / "mkbase-python.sh"), str(BASE_CACHE)], check=True, timeout=1200)
    daemon.docker.ok("import", "-c", 'CMD ["python3"]', "-c", "ENV LANG=C.UTF-8", str(BASE_CACHE),
                     "python:3.11-slim", timeout=600)


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


@pytest.mark.parametrize("cli", ["docker", "wharfie"])
def test_seed_scenario(daemon: WharfieDaemon, python_base: None, cli: str, tmp_path: Path) -> None:
    client = daemon.docker if cli == "docker" else daemon.wharfie
    builder = client if cli == "docker" or client("build", "--help").rc == 0 else daemon.docker
    ctx = tmp_path / "draw"
    shutil.copytree(ROOT / "examples" / "draw", ctx)
    builder.ok("build", "--tag", f"draw-{cli}", str(ctx), timeout=900)
    out = tmp_path / "out"
    out.mkdir()
    cid = client.ok("run", "-d", "-v", f"{out}:/out", f"draw-{cli}").strip()
    assert client.ok("wait", cid, timeout=300).strip() == "0"
    assert "wrote /out/quad.png" in client.ok("logs", cid)
    assert png_size(out / "quad.png") == (640, 480)
    # A second build of the same context is fully cached.
    again = daemon.docker.ok("build", "--tag", f"draw-{cli}", str(ctx), timeout=300)
    assert again.count("Using cache") == 5
    client.ok("rm", cid)


def test_seed_rebuilds_only_what_changed(daemon: WharfieDaemon, python_base: None, tmp_path: Path) -> None:
    """Editing the script re-runs only `COPY . .`; editing requirements.txt re-runs pip, and
    with a cache mount pip finds the wheels the previous build downloaded.

    (The package proxy here sends no caching headers, so pip's own HTTP cache never stores a
    response; a wheel directory on the cache mount shows the reuse instead.)"""
    ctx = tmp_path / "draw"
    shutil.copytree(ROOT / "examples" / "draw", ctx)
    dockerfile = (ctx / "Dockerfile").read_text()
    (ctx / "Dockerfile").write_text(dockerfile.replace(
        "RUN pip3 install -r requirements.txt",
        "RUN --mount=type=cache,target=/wheels pip3 download -d /wheels -r requirements.txt"
        " && pip3 install --no-index --find-links /wheels -r requirements.txt"))
    first = daemon.docker.ok("build", "--tag", "draw-edit", str(ctx), timeout=900)
    assert "Saved /wheels/numpy-1.26.4" in first
    with (ctx / "draw_quad.py").open("a") as fh:
        fh.write("# an edit\n")
    edited = daemon.docker.ok("build", "--tag", "draw-edit", str(ctx), timeout=300)
    assert edited.count("Using cache") == 3  # WORKDIR, COPY requirements.txt, RUN pip
    assert "Running in" not in edited and "Cache miss: draw_quad.py changed" in edited
    with (ctx / "requirements.txt").open("a") as fh:
        fh.write("# pinned versions unchanged\n")
    reqs = daemon.docker.ok("build", "--tag", "draw-edit", str(ctx), timeout=900)
    assert "Cache miss: requirements.txt changed" in reqs and "Running in" in reqs
    assert "File was already downloaded /wheels/numpy-1.26.4" in reqs
    assert "File was already downloaded /wheels/matplotlib-3.8.4" in reqs
    assert "Saved /wheels/" not in reqs
