"""Run the registry: lock the root, recover, listen (TCP, optionally TLS), serve until a signal.

One server owns a root at a time (an exclusive `flock` on ROOT/.lock, which `gc` takes too):
upload sessions and the GC's view of the repositories assume no other writer.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import signal
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from wharfie.api.http import Connection
from wharfie.errors import Conflict, InvalidArgument
from wharfie.registry.server.auth import Htpasswd
from wharfie.registry.server.routes import COMMON_HEADERS, Registry
from wharfie.registry.server.storage import Storage
from wharfie.registry.server.uploads import Uploads

log = logging.getLogger("wharfie.registry")

EXPIRE_EVERY = 60.0


@dataclass
class Config:
    listen: str = "127.0.0.1:5000"
    root: str = "/var/lib/wharfie-registry"
    htpasswd: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    upload_ttl: float = 3600.0


def parse_listen(listen: str) -> tuple[str, int]:
    """`HOST:PORT`, `[V6]:PORT` or `:PORT` (all interfaces); port 0 picks a free one."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise InvalidArgument(f"invalid --listen address {listen!r}: want HOST:PORT")
    return host.strip("[]") or "0.0.0.0", int(port)


@contextlib.contextmanager
def root_lock(root: Path) -> Iterator[None]:
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Conflict(f"registry root {root} is in use by another wharfie registry process") from None
        yield
    finally:
        os.close(fd)


def tls_context(cert: str, key: str) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        ctx.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as e:
        raise InvalidArgument(f"cannot load --tls-cert {cert} / --tls-key {key}: {e}") from None
    return ctx


def load_htpasswd(path: str) -> Htpasswd:
    try:
        return Htpasswd(path)
    except (OSError, ValueError) as e:
        raise InvalidArgument(f"cannot use --htpasswd {path}: {e}") from None


async def serve(cfg: Config, on_ready: Callable[[str], None] | None = None) -> None:
    """Serve until SIGTERM/SIGINT; `on_ready` gets the URL actually bound (for port 0)."""
    if bool(cfg.tls_cert) != bool(cfg.tls_key):
        raise InvalidArgument("--tls-cert and --tls-key go together")
    host, port = parse_listen(cfg.listen)
    with root_lock(Path(cfg.root)):
        storage = Storage(cfg.root)
        uploads = Uploads(storage, ttl=cfg.upload_ttl)
        temps, sessions = storage.recover(), uploads.purge_all()
        if temps or sessions:
            log.info("recovered: removed %d temp file(s), %d interrupted upload(s)", temps, sessions)
        htpasswd = load_htpasswd(cfg.htpasswd) if cfg.htpasswd else None
        registry = Registry(storage, uploads, htpasswd)
        ctx = tls_context(cfg.tls_cert, cfg.tls_key) if cfg.tls_cert and cfg.tls_key else None
        conns: set[asyncio.Task[None]] = set()

        async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            conns.add(task)
            try:
                await Connection(reader, writer, registry, COMMON_HEADERS).serve()
            finally:
                conns.discard(task)

        try:
            server = await asyncio.start_server(on_client, host, port, ssl=ctx, reuse_address=True)
        except OSError as e:
            raise InvalidArgument(f"cannot listen on {cfg.listen}: {e.strerror or e}") from None
        bound = server.sockets[0].getsockname()
        url = f"{'https' if ctx else 'http'}://{_hostport(bound[0], bound[1])}"
        log.info("wharfie registry serving %s on %s", cfg.root, url)
        if on_ready:
            on_ready(url)
        await _run_until_signal(uploads)
        server.close()
        for t in list(conns):
            t.cancel()
        await asyncio.gather(*conns, return_exceptions=True)


def _hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def _run_until_signal(uploads: Uploads) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), EXPIRE_EVERY)
        except TimeoutError:
            await expire_uploads(uploads)


async def expire_uploads(uploads: Uploads) -> None:
    """Drop idle sessions (on the loop: it reads their asyncio locks), unlink their files in a
    thread. A failure is logged: it must never end the server."""
    try:
        stale = uploads.take_stale()
        await asyncio.to_thread(uploads.discard, stale)
        if stale:
            log.info("expired %d idle upload session(s)", len(stale))
    except Exception:
        log.exception("expiring idle upload sessions failed")
