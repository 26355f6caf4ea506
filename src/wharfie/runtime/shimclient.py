"""The daemon's side of the shim protocol (see `wharfie.runtime.shim`), on asyncio.

`spawn_shim` starts a shim for a prepared state dir and waits for its first report line;
`ShimClient` sends one request per connection, and `stream` turns a connection into the
raw attach/exec byte stream after the reply.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import wharfie
from wharfie.errors import NotFound, WharfieError

SRC = str(Path(wharfie.__file__).resolve().parent.parent)
# -I: ignore the environment; -S: no site (a shim needs only the stdlib and wharfie).
SHIM_BOOT = ("import sys; sys.path[:0] = [{src!r}]; "
             "from wharfie.runtime.shim import main; sys.exit(main(sys.argv[1:]))")


class ShimError(WharfieError):
    def __init__(self, message: str, exit_code: int = 126) -> None:
        super().__init__(message)
        self.exit_code = exit_code


ZYGOTE_BOOT = ("import sys; sys.path[:0] = [{src!r}]; "
               "from wharfie.runtime.zygote import main; sys.exit(main(sys.argv[1:]))")


class Zygote:
    """The daemon's handle on its warm shim parent (see `wharfie.runtime.zygote`)."""

    def __init__(self, exec_root: str) -> None:
        self.path = os.path.join(exec_root, "zygote.sock")
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-I", "-S", "-c", ZYGOTE_BOOT.format(src=SRC), self.path,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=None)
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), 30)
        if line.strip() != b"ready":
            self.proc = None
            raise ShimError("the shim zygote failed to start")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def spawn(self, state_dir: str) -> dict[str, Any]:
        reader, writer = await asyncio.open_unix_connection(self.path)
        try:
            writer.write(state_dir.encode() + b"\n")
            await writer.drain()
            line = await asyncio.wait_for(reader.readline(), 30)
        finally:
            writer.close()
        return _report(line, state_dir)

    async def stop(self) -> None:
        if self.alive():
            assert self.proc is not None
            self.proc.kill()
            await self.proc.wait()


def _report(line: bytes, state_dir: str) -> dict[str, Any]:
    if not line:
        log = Path(state_dir, "shim.log").read_text(errors="replace")[-2000:] if Path(state_dir, "shim.log").exists() else ""
        raise ShimError(f"container shim failed to start: {log.strip() or 'no output'}")
    report: dict[str, Any] = json.loads(line)
    if "error" in report:
        raise ShimError(f"failed to create task for container: {report['error']}")
    return report


async def spawn_shim(state_dir: str, zygote: Zygote | None = None) -> dict[str, Any]:
    """Start a shim in its own session; returns its report ({"pid", "shim_pid"})."""
    if zygote is not None and zygote.alive():
        try:
            return await zygote.spawn(state_dir)
        except (ConnectionError, FileNotFoundError):
            pass  # fall back to a cold start below
    r, w = os.pipe()
    os.set_inheritable(w, True)
    errlog = open(os.path.join(state_dir, "shim.log"), "ab")
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-I", "-S", "-c", SHIM_BOOT.format(src=SRC), state_dir, str(w),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=errlog,
            pass_fds=(w,), start_new_session=True)
    finally:
        errlog.close()
        os.close(w)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(r, "rb"))
    try:
        line = await asyncio.wait_for(reader.readline(), 30)
    finally:
        transport.close()
    asyncio.ensure_future(proc.wait())  # reap it if it dies before the daemon does
    return _report(line, state_dir)


class ShimClient:
    def __init__(self, state_dir: str) -> None:
        self.sock_path = os.path.join(state_dir, "shim.sock")

    def alive(self) -> bool:
        return os.path.exists(self.sock_path)

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            dir_fd = os.open(os.path.dirname(self.sock_path), os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
            try:  # via the dir fd: the full path may exceed AF_UNIX's 108 bytes
                await asyncio.get_running_loop().sock_connect(sock, f"/proc/self/fd/{dir_fd}/shim.sock")
            finally:
                os.close(dir_fd)
            return await asyncio.open_unix_connection(sock=sock, limit=1 << 20)
        except (FileNotFoundError, ConnectionRefusedError) as e:
            sock.close()
            raise NotFound("container shim is gone") from e

    async def request(self, req: dict[str, Any], timeout: float | None = 30) -> dict[str, Any]:
        reader, writer = await self.connect()
        try:
            writer.write(json.dumps(req).encode() + b"\n")
            await writer.drain()
            line = await asyncio.wait_for(reader.readline(), timeout)
        finally:
            writer.close()
        if not line:
            raise NotFound("container shim closed the connection")
        reply: dict[str, Any] = json.loads(line)
        return reply

    async def stream(self, req: dict[str, Any]) -> tuple[dict[str, Any], asyncio.StreamReader, asyncio.StreamWriter]:
        """Send a request whose reply is followed by raw stream bytes on the same connection."""
        reader, writer = await self.connect()
        writer.write(json.dumps(req).encode() + b"\n")
        await writer.drain()
        line = await reader.readline()
        if not line:
            writer.close()
            raise NotFound("container shim closed the connection")
        return json.loads(line), reader, writer


async def frames(reader: asyncio.StreamReader) -> AsyncIterator[tuple[str, bytes]]:
    """("stdout"|"stderr", data) from a shim attach/exec stream without a TTY (docker's
    8-byte frame headers), until the shim closes it."""
    import struct

    while True:
        try:
            head = await reader.readexactly(8)
            data = await reader.readexactly(struct.unpack(">xxxxI", head)[0])
        except asyncio.IncompleteReadError:
            return
        yield ("stderr" if head[0] == 2 else "stdout"), data
