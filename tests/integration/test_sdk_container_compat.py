"""Container-API details docker-py's own integration suite checks, against wharfied."""

from __future__ import annotations

import socket
import struct
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="module", autouse=True)
def busybox(daemon, busybox_archive: Path) -> None:  # type: ignore[no-untyped-def]
    daemon.docker.ok("load", "-i", str(busybox_archive))


def _raw(sock: Any) -> socket.socket:
    return sock._sock if hasattr(sock, "_sock") else sock


def _read_all(sock: socket.socket, timeout: float = 10) -> bytes:
    sock.settimeout(timeout)
    out = b""
    while chunk := sock.recv(65536):
        out += chunk
    return out


def _demux(data: bytes) -> list[tuple[int, bytes]]:
    frames = []
    while data:
        assert len(data) >= 8, data
        stream, size = struct.unpack(">BxxxI", data[:8])
        assert stream in (1, 2), data
        frames.append((stream, data[8:8 + size]))
        data = data[8 + size:]
    return frames


@pytest.fixture
def sleeper(sdk):  # type: ignore[no-untyped-def]
    c = sdk.containers.run("busybox", ["sleep", "100"], detach=True)
    yield c
    c.remove(force=True)


def test_kill_with_sigkill_returns_once_dead(sdk) -> None:
    for _ in range(3):
        c = sdk.containers.run("busybox", ["sleep", "100"], detach=True)
        try:
            c.kill()
            state = sdk.api.inspect_container(c.id)["State"]
            assert (state["Running"], state["ExitCode"]) == (False, 137)
        finally:
            c.remove(force=True)


def test_exec_start_tty_decides_framing(sdk, sleeper) -> None:
    api = sdk.api
    eid = api.exec_create(sleeper.id, ["sh", "-c", "echo out; echo err >&2"], tty=True)["Id"]
    data = _read_all(_raw(api.exec_start(eid, tty=False, socket=True)))
    frames = _demux(data)
    assert b"".join(d for _, d in frames) == b"out\r\nerr\r\n"
    eid = api.exec_create(sleeper.id, ["sh", "-c", "echo out"], tty=False)["Id"]
    assert _read_all(_raw(api.exec_start(eid, tty=True, socket=True))) == b"out\n"
    # docker-py's ExecDemuxTest: a TTY exec started without Tty demuxes into stdout
    eid = api.exec_create(sleeper.id, ["sh", "-c", "echo out; echo err >&2"], tty=True)["Id"]
    assert api.exec_start(eid, demux=True) == (b"out\r\nerr\r\n", None)
