"""`wharfied`: the daemon's composition root.

Parses dockerd-compatible flags (and daemon.json), takes the data-root lock so two daemons never
share a store, recovers the store from whatever a crash left, wires the services to the API
routes and serves until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import grp
import json
import logging
import os
import signal
import sys
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wharfie import __version__
from wharfie.errors import InvalidArgument, WharfieError

if TYPE_CHECKING:
    from wharfie.registry.service import RegistryService

log = logging.getLogger("wharfied")

DEFAULT_HOST = "unix:///run/wharfie/wharfie.sock"
DEFAULT_DATA_ROOT = "/var/lib/wharfie"
DEFAULT_EXEC_ROOT = "/run/wharfie"
DEFAULT_PIDFILE = "/run/wharfie/wharfied.pid"
DEFAULT_CONFIG = "/etc/wharfie/daemon.json"

# daemon.json key → flag attribute (the names dockerd uses).
CONFIG_KEYS = {"hosts": "hosts", "data-root": "data_root", "exec-root": "exec_root",
               "pidfile": "pidfile", "debug": "debug", "group": "group",
               "insecure-registries": "insecure_registries", "registry-mirrors": "registry_mirrors",
               "bridge": "bridge", "bip": "bip", "default-address-pools": "default_address_pools"}


@dataclass
class DaemonConfig:
    hosts: list[str] = field(default_factory=lambda: [DEFAULT_HOST])
    data_root: Path = Path(DEFAULT_DATA_ROOT)
    exec_root: Path = Path(DEFAULT_EXEC_ROOT)
    pidfile: Path = Path(DEFAULT_PIDFILE)
    debug: bool = False
    group: str = ""
    insecure_registries: list[str] = field(default_factory=list)
    registry_mirrors: list[str] = field(default_factory=list)
    bridge: str = ""                 # networking (network/service.py): our bridge's name,
    bip: str = ""                    # its gateway address/prefix,
    default_address_pools: list[Any] = field(default_factory=list)  # and user networks' subnets
    extra: dict[str, Any] = field(default_factory=dict)  # daemon.json keys later issues read


def parse_args(argv: list[str]) -> DaemonConfig:
    p = argparse.ArgumentParser(prog="wharfied", description="The wharfie container engine daemon")
    p.add_argument("-H", "--host", dest="hosts", action="append",
                   help=f"daemon socket(s) to listen on (default {DEFAULT_HOST})")
    p.add_argument("--data-root", help=f"root of persistent state (default {DEFAULT_DATA_ROOT})")
    p.add_argument("--exec-root", help=f"root of runtime state (default {DEFAULT_EXEC_ROOT})")
    p.add_argument("-p", "--pidfile", help=f"path of the pid file (default {DEFAULT_PIDFILE})")
    p.add_argument("--config-file", default=None, help=f"daemon.json (default {DEFAULT_CONFIG})")
    p.add_argument("-D", "--debug", action="store_true", default=None, help="debug logging")
    p.add_argument("-G", "--group", help="group allowed to use the UNIX socket (default: root only)")
    p.add_argument("--insecure-registry", dest="insecure_registries", action="append",
                   help="registry (host[:port] or CIDR) that may use plain HTTP or unverified TLS")
    p.add_argument("--registry-mirror", dest="registry_mirrors", action="append",
                   help="preferred Docker Hub mirror (URL)")
    p.add_argument("-b", "--bridge", help="name of the default network's bridge (default wharfie0)")
    p.add_argument("--bip", help="the default bridge's address/prefix (default 10.87.0.1/16)")
    p.add_argument("--default-address-pool", dest="default_address_pools", action="append",
                   help="pool for user networks' subnets: base=CIDR,size=N (repeatable)")
    p.add_argument("-v", "--version", action="version", version=f"wharfied version {__version__}")
    ns = p.parse_args(argv)
    file_cfg = _read_config_file(ns.config_file)
    flags = {k: v for k, v in vars(ns).items() if v is not None and k != "config_file"}
    both = sorted(k for k in CONFIG_KEYS if CONFIG_KEYS[k] in flags and k in file_cfg)
    if both:
        raise InvalidArgument("the following directives are specified both as a flag and in the "
                              f"configuration file: {', '.join(both)}")
    cfg = DaemonConfig(extra=file_cfg)
    for key, attr in CONFIG_KEYS.items():
        value = flags.get(attr, file_cfg.get(key))
        if value is None:
            continue
        if attr in ("data_root", "exec_root", "pidfile"):
            value = Path(value).absolute()
        setattr(cfg, attr, value)
    from wharfie.registry.endpoints import validate_mirror

    cfg.registry_mirrors = [validate_mirror(m) for m in cfg.registry_mirrors]
    return cfg


def _read_config_file(path: str | None) -> dict[str, Any]:
    target = path or DEFAULT_CONFIG
    if not os.path.exists(target):
        if path:
            raise InvalidArgument(f"unable to configure the daemon: open {path}: no such file or directory")
        return {}
    try:
        with open(target) as fh:
            data = json.load(fh)
    except ValueError as e:
        raise InvalidArgument(f"unable to configure the daemon with file {target}: {e}") from e
    if not isinstance(data, dict):
        raise InvalidArgument(f"unable to configure the daemon with file {target}: not a JSON object")
    return data


class DataRootLock:
    """An flock on `<data-root>/wharfied.lock`: the kernel drops it when the holder dies."""

    def __init__(self, root: Path) -> None:
        self.path = root / "wharfied.lock"
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self.fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(self.fd)
            raise InvalidArgument(f"data root {root} is in use by another wharfied (pid {holder})") from None
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, f"{os.getpid()}\n".encode(), 0)


def write_pidfile(path: Path) -> None:
    """Refuse a pid file naming a live process; replace a stale one (crash leftovers)."""
    try:
        old = int(path.read_text().strip() or "0")
    except (FileNotFoundError, ValueError):
        old = 0
    if old and old != os.getpid() and _alive(old):
        raise InvalidArgument(f"pid file found, ensure wharfied is not running or delete {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(f"{os.getpid()}\n")
    os.replace(tmp, path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


class Daemon:
    """Holds the services; the API routes reach them through this object."""

    def __init__(self, config: DaemonConfig) -> None:
        from wharfie.containers.service import ContainerService
        from wharfie.events import EventBus
        from wharfie.images.service import ImageService
        from wharfie.network.service import NetSettings, NetworkService
        from wharfie.volumes.service import VolumeService

        self.config = config
        self.warnings: list[str] = []
        for d in (config.data_root, config.exec_root):
            d.mkdir(parents=True, exist_ok=True, mode=0o711)
        self.lock = DataRootLock(config.data_root)
        self.daemon_id = self._daemon_id()
        self.events = EventBus()
        self.images = ImageService(config.data_root / "image", self.events)
        self.volumes = VolumeService(config.data_root, self.events)
        self.containers = ContainerService(config.data_root, config.exec_root, self.images, self.volumes,
                                           self.events)
        self.networks = NetworkService(config.data_root, config.exec_root, self.events, NetSettings.from_config(
            config.bridge, config.bip, config.default_address_pools, config.extra.get("firewall-backend")))
        self.networks.containers = self.containers.store.all
        self.containers.network = self.networks
        from wharfie.build.cache import BuildCache

        (config.data_root / "build").mkdir(exist_ok=True, mode=0o700)
        self.build_cache = BuildCache(config.data_root / "build" / "cache.db")
        self._registry: Any = None
        self._registry_lock = threading.Lock()

    @property
    def registry(self) -> RegistryService:
        """The registry client service, made on first use (the daemon warms it up in a worker
        once it is ready; its import pulls in httpx). Blocking: call its methods from worker
        threads."""
        with self._registry_lock:
            if self._registry is None:
                from wharfie.registry.endpoints import RegistryConfig
                from wharfie.registry.service import RegistryService

                config = RegistryConfig(list(self.config.insecure_registries), list(self.config.registry_mirrors))
                self._registry = RegistryService(self.images, self.events, config)  # (mirrors checked at start)
            return self._registry

    def _daemon_id(self) -> str:
        path = self.config.data_root / "engine-id"
        try:
            return path.read_text().strip()
        except FileNotFoundError:
            ident = str(uuid.uuid4())
            tmp = path.with_suffix(".tmp")
            tmp.write_text(ident)
            os.replace(tmp, path)
            return ident

    def container_counts(self) -> dict[str, int]:
        return self.containers.counts()

    def router(self) -> Any:
        from wharfie.api.routes import build, containers, images, networks, registry, system
        from wharfie.api.server import Router

        router = Router()
        system.register(router, self)
        images.register(router, self)
        containers.register(router, self)
        build.register(router, self)
        registry.register(router, self)
        networks.register(router, self)
        return router

    async def run(self) -> None:
        from wharfie.api.server import ApiServer

        loop = asyncio.get_running_loop()
        loop.set_default_executor(_executor())
        self.events.bind(loop)
        report = await asyncio.to_thread(self.images.recover)
        if any(report.values()):
            log.info("recovered the store after an unclean stop: %s", report)
        await self.networks.setup()
        await self.containers.recover()
        server = ApiServer(self.router())
        group = _group_id(self.config.group)
        wrote_pidfile = False
        try:
            for host in self.config.hosts:
                await server.listen(host, group)
            write_pidfile(self.config.pidfile)
            wrote_pidfile = True
            stop = asyncio.Event()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
            log.info("wharfied %s ready (data root %s)", __version__, self.config.data_root)
            self.events.publish("daemon", "start", self.daemon_id, {"name": os.uname().nodename})
            # Make the registry client now, in a worker: routes and the builder may touch
            # `self.registry` on the loop, and its first use imports httpx.
            warm = loop.run_in_executor(None, lambda: self.registry)
            await stop.wait()
            await asyncio.gather(warm, return_exceptions=True)
            log.info("shutting down")
        finally:
            await self.containers.shutdown()
            await server.close()
            for path in server.unix_paths:  # only the sockets this daemon bound
                _unlink(path)
            if wrote_pidfile:
                _unlink(str(self.config.pidfile))
            self.images.db.close()


def _executor() -> Any:
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(max_workers=32, thread_name_prefix="wharfie-worker")


def _group_id(name: str) -> int | None:
    if not name:
        return None
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        if name.isdigit():
            return int(name)
        raise InvalidArgument(f"group {name!r} does not exist") from None


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def raise_fd_limit() -> None:
    """The soft RLIMIT_NOFILE up to the hard one (DNS forwards, streams, ports: one fd each).
    Never the hard limit itself: that needs CAP_SYS_RESOURCE, which root may lack."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:  # (soft never exceeds a finite hard limit)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError) as e:
            log.warning("could not raise the open files limit from %s to %s: %s", soft, hard, e)


def main(argv: list[str] | None = None) -> int:
    try:
        config = parse_args(sys.argv[1:] if argv is None else argv)
    except WharfieError as e:
        print(f"wharfied: {e}", file=sys.stderr)
        return 1
    logging.basicConfig(
        level=logging.DEBUG if config.debug else logging.INFO,
        format="time=%(asctime)s level=%(levelname)s logger=%(name)s msg=%(message)s",
        stream=sys.stderr,
    )
    if os.geteuid() != 0:
        print("wharfied: must run as root", file=sys.stderr)
        return 1
    raise_fd_limit()
    try:
        daemon = Daemon(config)
        asyncio.run(daemon.run())
    except WharfieError as e:
        print(f"wharfied: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"wharfied: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
