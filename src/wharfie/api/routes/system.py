"""System routes: /_ping, /version, /info, /events, and the swarm endpoints of a node that is
not in a swarm (wharfie has no swarm mode)."""

from __future__ import annotations

import asyncio
import json
import os
import platform
import socket
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from wharfie import API_VERSION, MIN_API_VERSION, __version__
from wharfie.api.http import Request, Response, json_response
from wharfie.api.server import Router, error_response, version_tuple
from wharfie.containers.service import runtimes
from wharfie.errors import InvalidArgument
from wharfie.events import Event
from wharfie.images import filters as flt
from wharfie.oci import mediatypes as mt

if TYPE_CHECKING:
    from wharfie.daemon import Daemon

PING_HEADERS = [
    ("Builder-Version", "1"),
    ("Swarm", "inactive"),
    ("Cache-Control", "no-cache, no-store, must-revalidate"),
    ("Pragma", "no-cache"),
]
EVENT_FILTERS = {"config", "container", "daemon", "event", "image", "label", "network", "node",
                 "plugin", "scope", "secret", "service", "type", "volume"}


def register(router: Router, d: Daemon) -> None:
    @router.route("GET", "/_ping")
    async def ping(request: Request) -> Response:
        return Response(200, b"OK", PING_HEADERS, content_type="text/plain; charset=utf-8")

    @router.route("GET", "/version")
    async def version(request: Request) -> Response:
        return json_response(version_info())

    @router.route("GET", "/info")
    async def info(request: Request) -> Response:
        return json_response(await asyncio.to_thread(system_info, d))

    @router.route("GET", "/system/df")
    async def disk_usage(request: Request) -> Response:
        from wharfie.usage import disk_usage

        return json_response(await asyncio.to_thread(disk_usage, d.images, d.containers, d.volumes,
                                                     version_tuple(request.api_version), request.args("type")))

    @router.route("GET", "/events")
    async def events(request: Request) -> Response:
        return Response(200, event_stream(d, request))

    register_swarm_absent(router)


NOT_IN_SWARM = "This node is not part of a swarm"
NOT_MANAGER = ('This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" '
               "to connect this node to swarm and try again.")
NO_SWARM_MODE = "swarm mode is not supported by wharfie: it runs containers on this node only"
SWARM_RESOURCES = ("nodes", "services", "tasks", "secrets", "configs")


def register_swarm_absent(router: Router) -> None:
    """Docker's answers when the node is not in a swarm (503: the node "is not ready" for the
    request), and 501 for the calls that would make it one."""
    async def not_in_swarm(request: Request) -> Response:
        return error_response(503, NOT_IN_SWARM)

    async def not_manager(request: Request) -> Response:
        return error_response(503, NOT_MANAGER)

    async def unsupported(request: Request) -> Response:
        return error_response(501, NO_SWARM_MODE)

    router.add("POST", "/swarm/leave", not_in_swarm)
    router.add("POST", "/swarm/init", unsupported)
    router.add("POST", "/swarm/join", unsupported)
    for method in ("GET", "HEAD"):
        router.add(method, "/swarm", not_manager)
        router.add(method, "/swarm/unlockkey", not_manager)
    router.add("POST", "/swarm/update", not_manager)
    router.add("POST", "/swarm/unlock", not_manager)
    for resource in SWARM_RESOURCES:
        for method in ("GET", "HEAD", "POST", "DELETE"):
            router.add(method, f"/{resource}", not_manager)
            router.add(method, f"/{resource}/{{rest:path}}", not_manager)


def _build_time() -> str:
    """When this wharfie was installed (the package's mtime), in Go's time.ANSIC layout."""
    import wharfie

    return time.strftime("%a %b %d %H:%M:%S %Y", time.gmtime(os.path.getmtime(wharfie.__file__)))


def version_info() -> dict[str, Any]:
    uname = platform.uname()
    details = {
        "ApiVersion": API_VERSION, "MinAPIVersion": MIN_API_VERSION, "GitCommit": "wharfie",
        "GoVersion": f"python{platform.python_version()}", "Os": "linux", "Arch": mt.host_arch(),
        "KernelVersion": uname.release, "BuildTime": _build_time(), "Experimental": "false",
    }
    return {
        "Platform": {"Name": "wharfie"},
        "Components": [{"Name": "Engine", "Version": __version__, "Details": details}],
        "Version": __version__,
        "ApiVersion": API_VERSION,
        "MinAPIVersion": MIN_API_VERSION,
        "GitCommit": "wharfie",
        "GoVersion": details["GoVersion"],
        "Os": "linux",
        "Arch": mt.host_arch(),
        "KernelVersion": uname.release,
        "BuildTime": details["BuildTime"],
    }


def _os_name() -> str:
    try:
        with open("/etc/os-release") as fh:
            for line in fh:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "Linux"


def _cgroup_version() -> str:
    return "2" if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else "1"


def system_info(d: Daemon) -> dict[str, Any]:
    counts = d.container_counts()
    images = len(d.images.db.images())
    return {
        "ID": d.daemon_id,
        "Containers": sum(counts.values()),
        "ContainersRunning": counts.get("running", 0),
        "ContainersPaused": counts.get("paused", 0),
        "ContainersStopped": counts.get("stopped", 0),
        "Images": images,
        "Driver": "overlay2",
        "DriverStatus": [["Backing Filesystem", "extfs"], ["Supports d_type", "true"]],
        "DockerRootDir": str(d.config.data_root),
        "Plugins": {"Volume": ["local"], "Network": ["bridge", "host", "null"], "Authorization": None,
                    "Log": ["json-file"]},
        "MemoryLimit": True, "SwapLimit": True, "KernelMemoryTCP": False, "CpuCfsPeriod": True,
        "CpuCfsQuota": True, "CPUShares": True, "CPUSet": True, "PidsLimit": True,
        "OomKillDisable": _cgroup_version() == "1", "IPv4Forwarding": True, "BridgeNfIptables": False,
        "BridgeNfIp6tables": False,
        "Debug": d.config.debug,
        "NFd": len(os.listdir("/proc/self/fd")),
        "NGoroutines": 0,
        "SystemTime": time.strftime("%Y-%m-%dT%H:%M:%S.000000000Z", time.gmtime()),
        "LoggingDriver": "json-file",
        "CgroupDriver": "cgroupfs",
        "CgroupVersion": _cgroup_version(),
        "NEventsListener": len(d.events.subscribers),
        "KernelVersion": platform.release(),
        "OperatingSystem": _os_name(),
        "OSVersion": "",
        "OSType": "linux",
        "Architecture": platform.machine(),
        "NCPU": os.cpu_count() or 1,
        "MemTotal": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"),
        "IndexServerAddress": "https://index.docker.io/v1/",
        "RegistryConfig": {"IndexConfigs": {}, "InsecureRegistryCIDRs": ["127.0.0.0/8", "::1/128"],
                           "Mirrors": []},
        "GenericResources": None,
        "HttpProxy": os.environ.get("HTTP_PROXY", ""), "HttpsProxy": os.environ.get("HTTPS_PROXY", ""),
        "NoProxy": os.environ.get("NO_PROXY", ""),
        "Name": socket.gethostname(),
        "Labels": [],
        "ExperimentalBuild": False,
        "ServerVersion": __version__,
        "Runtimes": runtimes(),
        "DefaultRuntime": "wharfie",
        "Swarm": {"NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive", "ControlAvailable": False,
                  "Error": "", "RemoteManagers": None},
        "LiveRestoreEnabled": True,
        "Isolation": "",
        "InitBinary": "",
        "ContainerdCommit": {"ID": ""}, "RuncCommit": {"ID": ""}, "InitCommit": {"ID": ""},
        "SecurityOptions": ["name=seccomp,profile=builtin"],
        "Warnings": d.warnings,
    }


# -- events --------------------------------------------------------------------------------
def _event_time(value: str, now: float) -> int:
    """`since`/`until` as nanoseconds (unix seconds with fraction, RFC3339 or a duration)."""
    return int(flt.parse_until(value, now) * 1e9)


def _event_matches(e: Event, filters: dict[str, list[str]]) -> bool:
    actor = e["Actor"]
    attrs = actor.get("Attributes") or {}
    checks = {
        "type": lambda vs: e["Type"] in vs,
        "event": lambda vs: e["Action"] in vs or e["Action"].split(":", 1)[0] in vs,
        "scope": lambda vs: e.get("scope") in vs,
        "image": lambda vs: any(v in (actor["ID"], attrs.get("name"), attrs.get("image")) for v in vs)
        if e["Type"] in ("image", "container") else False,
        "container": lambda vs: e["Type"] == "container" and any(
            v in (actor["ID"], attrs.get("name")) or actor["ID"].startswith(v) for v in vs),
        "label": lambda vs: all(flt.label_match(attrs, v) for v in vs),
        "volume": lambda vs: e["Type"] == "volume" and actor["ID"] in vs,
        "network": lambda vs: e["Type"] == "network" and (actor["ID"] in vs or attrs.get("name") in vs),
        "daemon": lambda vs: e["Type"] == "daemon",
    }
    for key, values in filters.items():
        check = checks.get(key)
        if check is not None and not check(values):
            return False
    return True


async def event_stream(d: Daemon, request: Request) -> AsyncIterator[bytes]:
    now = time.time()
    filters = flt.parse_filters(request.arg("filters") or None)
    flt.validate(filters, EVENT_FILTERS)
    since = _event_time(request.arg("since"), now) if request.arg("since") else None
    until = _event_time(request.arg("until"), now) if request.arg("until") else None
    if since is not None and until is not None and since > until:
        raise InvalidArgument("since time must be before until time")
    past, queue = d.events.subscribe(since)
    last = 0
    try:
        for e in past:
            if until is not None and e["timeNano"] > until:
                return
            if _event_matches(e, filters):
                yield json.dumps(e).encode() + b"\n"
            last = e["timeNano"]
        while True:
            timeout = None if until is None else max(0.0, until / 1e9 - time.time())
            try:
                e = await asyncio.wait_for(queue.get(), timeout)
            except TimeoutError:
                return
            if e["timeNano"] <= last:
                continue  # already sent from the ring
            if until is not None and e["timeNano"] > until:
                return
            if _event_matches(e, filters):
                yield json.dumps(e).encode() + b"\n"
    finally:
        d.events.unsubscribe(queue)
