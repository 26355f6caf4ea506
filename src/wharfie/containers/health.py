"""Health checks (HEALTHCHECK, `--health-*`): the test command runs in the container like an
exec, every Interval (every StartInterval during StartPeriod), and `State.Health` keeps Docker's
view: Status starting → healthy / unhealthy, FailingStreak, and the last five probes' Log.

Like Docker: a probe that fails during the start period does not count unless the container
was already healthy once; Retries consecutive failures make it unhealthy; a probe slower than
Timeout is killed and logged as exit -1; output is cut to its last 4096 bytes; each change of
status is a `health_status: …` event.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import signal
import time
from typing import TYPE_CHECKING, Any

from wharfie.errors import NotFound
from wharfie.runtime.logfile import rfc3339nano
from wharfie.units import go_duration

if TYPE_CHECKING:
    from wharfie.containers.service import ContainerService

log = logging.getLogger("wharfie.health")

SECOND = 1_000_000_000
DEFAULTS = {"Interval": 30 * SECOND, "Timeout": 30 * SECOND, "StartInterval": 5 * SECOND,
            "StartPeriod": 0, "Retries": 3}
MAX_OUTPUT = 4096
LOG_ENTRIES = 5


def probe_argv(check: dict[str, Any], shell: list[str] | None) -> list[str] | None:
    """The command a check runs; None when the check is off (`NONE`, no test)."""
    test = list(check.get("Test") or [])
    if not test or test[0] == "NONE":
        return None
    if test[0] == "CMD":
        return test[1:] or None
    if test[0] == "CMD-SHELL":
        return [*(shell or ["/bin/sh", "-c"]), " ".join(test[1:])]
    return test  # a bare command list: what old API clients send


def setting(check: dict[str, Any], key: str) -> int:
    return int(check.get(key) or 0) or DEFAULTS[key]


def record(health: dict[str, Any], result: dict[str, Any], retries: int, in_start_period: bool) -> str:
    """Fold one probe's result into `health`; returns the new Status."""
    health["Log"] = [*(health.get("Log") or []), result][-LOG_ENTRIES:]
    if result["ExitCode"] == 0:
        health.update(Status="healthy", FailingStreak=0)
    elif not (in_start_period and health.get("Status") == "starting"):
        health["FailingStreak"] = int(health.get("FailingStreak") or 0) + 1
        if health["FailingStreak"] >= retries:
            health["Status"] = "unhealthy"
    return str(health["Status"])


async def monitor(svc: ContainerService, cid: str) -> None:
    """Probe a running container until cancelled (the container stopped)."""
    doc = svc.get(cid)
    check = doc["Config"].get("Healthcheck") or {}
    argv = probe_argv(check, doc["Config"].get("Shell"))
    if argv is None:
        return
    started = time.monotonic()
    start_period = setting(check, "StartPeriod") / SECOND
    async with svc.lock(cid):
        doc = svc.get(cid)
        doc["State"]["Health"] = {"Status": "starting", "FailingStreak": 0, "Log": []}
        await svc.store.persist(doc)
    while True:
        in_start = time.monotonic() - started < start_period
        await asyncio.sleep(setting(check, "StartInterval" if in_start else "Interval") / SECOND)
        result = await probe(svc, cid, argv, setting(check, "Timeout") / SECOND)
        in_start = time.monotonic() - started < start_period
        async with svc.lock(cid):
            try:
                doc = svc.get(cid)
            except NotFound:
                return
            if not doc["State"]["Running"]:
                return
            health = doc["State"].setdefault("Health", {"Status": "starting", "FailingStreak": 0, "Log": []})
            before = health.get("Status")
            status = record(health, result, setting(check, "Retries"), in_start)
            await svc.store.persist(doc)
        if status != before:
            svc.emit(doc, f"health_status: {status}")


async def probe(svc: ContainerService, cid: str, argv: list[str], timeout: float) -> dict[str, Any]:
    """Run the check once through the shim; its output, exit code and times."""
    from wharfie.containers.streams import exec_process

    start = rfc3339nano(time.time_ns())
    pid = 0
    out = bytearray()
    try:
        process = await asyncio.to_thread(exec_process, svc, cid, {"Cmd": argv})
        eid = "health-" + secrets.token_hex(16)
        reply, reader, writer = await svc.shim(cid).stream(
            {"op": "exec", "id": eid, "process": process, "attach": {"stdin": False, "stdout": True, "stderr": True}})
        if "error" in reply:
            writer.close()
            return _result(start, -1, f"OCI runtime exec failed: {reply['error']}")
        pid = int(reply.get("pid") or 0)
        try:
            await asyncio.wait_for(_collect(reader, out), timeout)
        except TimeoutError:
            if pid:
                _kill(pid)
            return _result(start, -1, f"Health check exceeded timeout ({go_duration(round(timeout * SECOND))})")
        finally:
            writer.close()
        state = await _exit_state(svc, cid, eid)
    except (OSError, NotFound, ValueError) as e:
        return _result(start, -1, f"health check failed to run: {e}")
    code = state.get("exit_code")
    return _result(start, -1 if code is None else int(code), out[-MAX_OUTPUT:].decode("utf-8", "replace"))


async def _collect(reader: asyncio.StreamReader, out: bytearray) -> None:
    from wharfie.runtime.shimclient import frames

    async for _, data in frames(reader):
        out += data
        del out[:-MAX_OUTPUT]


async def _exit_state(svc: ContainerService, cid: str, eid: str) -> dict[str, Any]:
    for _ in range(100):
        state: dict[str, Any] = await svc.shim(cid).request({"op": "exec-state", "id": eid}, timeout=5)
        if not state.get("running", True):
            return state
        await asyncio.sleep(0.02)
    return {"exit_code": None}


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _result(start: str, code: int, output: str) -> dict[str, Any]:
    return {"Start": start, "End": rfc3339nano(time.time_ns()), "ExitCode": code, "Output": output}
