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
