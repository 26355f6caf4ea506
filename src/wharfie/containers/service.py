"""The container lifecycle: create, start, stop, kill, wait, remove, restart policies, recovery.

State lives in the `ContainerStore` (SQLite); a running container is a shim process reached
through `exec-root/containers/<id>/shim.sock`. One watcher task per running container holds a
`wait` request open on the shim and turns the shim's exit report into the container's new
state, events, restart-policy decisions and auto-removal. After a daemon restart the watchers
are re-established from the store; containers whose shim died meanwhile get their exit.json.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import signal as signals
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from wharfie.containers import model
from wharfie.containers.rootfs import RootfsManager
from wharfie.containers.specbuilder import build_spec
from wharfie.containers.store import ContainerStore, Doc
from wharfie.errors import Conflict, InvalidArgument, NotFound, NotModified, WharfieError
from wharfie.events import EventBus
from wharfie.images.service import ImageService
from wharfie.network.service import NetworkService
from wharfie.runtime.shimclient import ShimClient, ShimError, Zygote, spawn_shim
from wharfie.volumes.service import VolumeService

log = logging.getLogger("wharfie.containers")

WAIT_CONDITIONS = ("not-running", "next-exit", "removed")
KILL_WAIT = 10  # seconds a SIGKILL waits for the container to stop (dockerd's bound)


class StartError(WharfieError):
    """The container process could not be started (exec failed, bad mount…)."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.status = 400 if exit_code in (126, 127) else 500


def signal_number(value: str | int | None, default: int = signals.SIGTERM) -> int:
    """`SIGTERM`, `TERM`, `15` → 15 (Docker accepts all three)."""
    if value in (None, ""):
        return default
    if isinstance(value, int) or str(value).isdigit():
        n = int(value)
        if n <= 0 or n > 64:
            raise InvalidArgument(f"Invalid signal: {value}")
        return n
    name = str(value).upper()
    name = name if name.startswith("SIG") else "SIG" + name
    try:
        return int(getattr(signals.Signals, name))
    except AttributeError:
        raise InvalidArgument(f"Invalid signal: {value}") from None


class ContainerService:
    def __init__(self, data_root: Path, exec_root: Path, images: ImageService, volumes: VolumeService,
                 events: EventBus) -> None:
        self.root = data_root / "containers"
        self.root.mkdir(parents=True, exist_ok=True, mode=0o710)
        self.state_root = exec_root / "containers"
        self.state_root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.images, self.volumes, self.events = images, volumes, events
        self.store = ContainerStore(self.root / "containers.db")
        self.rootfs = RootfsManager(self.root, images)
        self.exit_waiters: dict[str, list[asyncio.Future[dict[str, Any]]]] = {}
        self.remove_waiters: dict[str, list[asyncio.Future[dict[str, Any]]]] = {}
        self.watchers: dict[str, asyncio.Task[None]] = {}
        self.pending_attach: dict[str, list[Callable[[], Any]]] = {}
        self.locks: dict[str, asyncio.Lock] = {}
        self.execs: dict[str, dict[str, Any]] = {}  # exec id → record
        self.zygote = Zygote(str(exec_root))
        self.network: NetworkService | None = None  # set by the daemon (None: private netns, lo only)
        images.container_users = self.image_users
        volumes.container_users = self.volume_users

    # -- helpers ---------------------------------------------------------------------------
    def get(self, ref: str) -> Doc:
        return self.store.get(ref)

    def lock(self, cid: str) -> asyncio.Lock:
        return self.locks.setdefault(cid, asyncio.Lock())

    def state_dir(self, cid: str) -> str:
        return str(self.state_root / cid)

    def shim(self, cid: str) -> ShimClient:
        return ShimClient(self.state_dir(cid))

    def image_users(self, image_id: str) -> list[tuple[str, bool]]:
        return [(d["Id"], d["State"]["Running"]) for d in self.store.all() if d["Image"] == image_id]

    def volume_users(self, name: str) -> list[str]:
        return [d["Id"] for d in self.store.all()
                if any(m.get("Type") == "volume" and m.get("Name") == name for m in d.get("Mounts") or [])]

    def counts(self) -> dict[str, int]:
        out = {"running": 0, "paused": 0, "stopped": 0}
        for d in self.store.all():
            st = d["State"]
            key = "paused" if st["Paused"] else "running" if st["Running"] else "stopped"
            out[key] += 1
        return out

    def emit(self, doc: Doc, action: str, **extra: str) -> None:
        attrs = {"image": doc["Config"].get("Image", ""), "name": doc["Name"].lstrip("/"),
                 **{k: str(v) for k, v in (doc["Config"].get("Labels") or {}).items()}, **extra}
        self.events.publish("container", action, doc["Id"], attrs)

    # -- create ----------------------------------------------------------------------------
    async def create(self, body: dict[str, Any], name: str) -> tuple[str, list[str]]:
        if not isinstance(body, dict):
            raise InvalidArgument("config cannot be empty in order to create a container")
        image_ref = body.get("Image") or ""
        if not image_ref:
            raise InvalidArgument("config cannot be empty in order to create a container")
        image = await asyncio.to_thread(self.images.get, image_ref)
        host = body.get("HostConfig") or {}
        _validate_host(host)
        cfg = model.merge_config(image.config.get("config") or {}, body)
        if not model.command_of(cfg):
            raise InvalidArgument("no command specified")
        taken = {d["Name"] for d in self.store.all()}
        full_name = model.validate_name(name) if name else "/" + model.random_name(taken)
        cid = secrets.token_hex(32)
        doc = model.new_doc(cid, full_name, image.id, cfg, host)
        warnings: list[str] = []
        if self.network is not None:
            warnings += self.network.plan(doc, body.get("NetworkingConfig"))
            doc["_wharfie"]["embedded_dns"] = self.network.uses_embedded_dns(doc)
        cdir = self.root / cid
        cdir.mkdir(mode=0o710)
        if doc["HostConfig"]["LogConfig"]["Type"] != "none":
            doc["LogPath"] = str(cdir / f"{cid}-json.log")
        doc["_wharfie"]["chain"] = self.images.db.image_chain(image.id)
        try:
            doc["Mounts"] = await asyncio.to_thread(self.volumes.plan_mounts, doc)
            await asyncio.to_thread(self.rootfs.prepare, doc)
            self.store.insert(doc, time.time())
        except BaseException:
            await asyncio.to_thread(self.rootfs.destroy, cid)
            raise
        self.emit(doc, "create")
        return cid, warnings

    # -- start -----------------------------------------------------------------------------
    async def start(self, ref: str) -> None:
        doc = self.get(ref)
        async with self.lock(doc["Id"]):
            doc = self.get(doc["Id"])
            st = doc["State"]
            if st["Paused"]:
                raise Conflict("cannot start a paused container, try unpause instead")
            if st["Running"]:
                raise NotModified("container already started")
            if st.get("Status") == "removing":
                raise Conflict("container is marked for removal and cannot be started")
            doc["_wharfie"]["manual_stop"] = False
            await self._start_locked(doc)

    async def _start_locked(self, doc: Doc) -> None:
        cid = doc["Id"]
        state_dir = self.state_dir(cid)
        try:
            if self.network is not None:
                doc["_wharfie"]["netns"] = await self.network.attach(doc)
                peer = doc["_wharfie"].get("net_peer")
                await asyncio.to_thread(self.rootfs.write_hosts, doc, self.get(peer) if peer else None)
            await asyncio.to_thread(self._prepare_bundle, doc, state_dir)
            report = await spawn_shim(state_dir, self.zygote)
            client = self.shim(cid)
            for connect in self.pending_attach.pop(cid, []):
                await connect()
            reply = await client.request({"op": "start"}, timeout=120)
        except ShimError as e:
            await self._start_failed(doc, str(e), e.exit_code)
            raise StartError(str(e), e.exit_code) from e
        except OSError as e:
            await self._start_failed(doc, str(e), 128)
            raise StartError(str(e), 128) from e
        except WharfieError as e:  # networking: a port already allocated, no address left …
            await self._start_failed(doc, str(e), 128)
            raise
        if "error" in reply:
            msg = f"failed to create task for container: {reply['error']}: unknown"
            await self._start_failed(doc, msg, int(reply.get("exit_code", 126)), shim_running=True)
            raise StartError(msg, int(reply.get("exit_code", 126)))
        st = doc["State"]
        st.update(Status="running", Running=True, Paused=False, Restarting=False, OOMKilled=False,
                  Dead=False, Pid=int(report["pid"]), ExitCode=0, Error="", StartedAt=model.now_rfc3339())
        await self.store.persist(doc)
        self.emit(doc, "start")
        self._watch(cid)

    def _prepare_bundle(self, doc: Doc, state_dir: str) -> None:
        if os.path.isdir(state_dir):
            _remove_state_dir(state_dir)
        os.makedirs(state_dir, mode=0o700)
        rootfs = self.rootfs.mount(doc)
        self.rootfs.make_workdir(rootfs, doc["Config"].get("WorkingDir") or "/")
        mounts = self.volumes.runtime_mounts(doc, self.rootfs.subpaths(doc["Id"]))
        spec = build_spec(doc, rootfs, mounts, self.rootfs.etc_files(doc))
        hc = doc["HostConfig"]
        opts = (hc.get("LogConfig") or {}).get("Config") or {}
        from wharfie.runtime.logfile import DEFAULT_MAX_FILE, DEFAULT_MAX_SIZE, parse_size

        shim_opts = {
            "log_path": doc["LogPath"],
            "max_size": parse_size(opts["max-size"]) if opts.get("max-size") else DEFAULT_MAX_SIZE,
            "max_file": int(opts.get("max-file", DEFAULT_MAX_FILE)),
            "open_stdin": bool(doc["Config"].get("OpenStdin")),
            "stdin_once": bool(doc["Config"].get("StdinOnce")),
            "console_size": hc.get("ConsoleSize"),
            "id": doc["Id"],
            "runtime": hc.get("Runtime") or "wharfie",
            "runc_root": str(self.state_root.parent / "runc"),
        }
        _write_json(os.path.join(state_dir, "config.json"), spec)
        _write_json(os.path.join(state_dir, "shim.json"), shim_opts)
        doc["_wharfie"]["cgroup"] = spec["linux"]["cgroupsPath"]

    async def _start_failed(self, doc: Doc, message: str, code: int, shim_running: bool = False) -> None:
        """Like dockerd: the container stays (as created/exited with the error), waiters learn
        the exit code, and an --rm container goes away."""
        await asyncio.to_thread(self._force_kill, doc)  # a half-started shim must not linger
        for connect in self.pending_attach.pop(doc["Id"], []):
            abandon = getattr(getattr(connect, "__self__", None), "abandon", None)
            if abandon is not None:
                abandon()  # attached clients of a start that failed early get their EOF
        st = doc["State"]
        never_ran = st["StartedAt"].startswith("0001")
        st.update(Status="created" if never_ran else "exited", Running=False, Pid=0, ExitCode=code,
                  Error=message, FinishedAt=model.now_rfc3339())
        await self.store.persist(doc)
        await asyncio.to_thread(self._cleanup_runtime, doc)
        await self._release_network(doc)
        for fut in self.exit_waiters.pop(doc["Id"], []):
            if not fut.done():
                fut.set_result({"StatusCode": code, "Error": {"Message": message}})
        if doc["HostConfig"].get("AutoRemove"):
            asyncio.ensure_future(self._remove_quietly(doc["Id"]))  # we hold the start lock here

    async def _remove_quietly(self, cid: str) -> None:
        try:
            await self.remove(cid, force=True, volumes=True)
        except WharfieError as e:
            log.warning("auto-removal of %s failed: %s", cid[:12], e)

    # -- watching exits --------------------------------------------------------------------
    def _watch(self, cid: str) -> None:
        old = self.watchers.get(cid)
        if old is not None and not old.done():
            return
        self.watchers[cid] = asyncio.ensure_future(self._watcher(cid))

    async def _watcher(self, cid: str) -> None:
        from wharfie.containers import health

        client = self.shim(cid)
        info: dict[str, Any] | None = None
        checks = asyncio.ensure_future(health.monitor(self, cid))  # for as long as it runs
        try:
            info = await client.request({"op": "wait"}, timeout=None)
        except (NotFound, OSError, ValueError):
            info = _read_exit(self.state_dir(cid))
        except asyncio.CancelledError:
            return
        finally:
            checks.cancel()
        if info is None or "exit_code" not in info:
            info = _read_exit(self.state_dir(cid)) or {"exit_code": 255, "oom_killed": False,
                                                         "finished_at": model.now_rfc3339()}
        await self._on_exit(cid, info)

    async def _on_exit(self, cid: str, info: dict[str, Any]) -> None:
        try:
            doc = self.get(cid)
        except NotFound:
            return
        async with self.lock(cid):
            doc = self.get(cid)
            self._collect_execs(cid)
            st = doc["State"]
            code = int(info.get("exit_code", 255))
            st.update(Status="exited", Running=False, Paused=False, Pid=0, ExitCode=code,
                      OOMKilled=bool(info.get("oom_killed")), FinishedAt=info.get("finished_at") or model.now_rfc3339())
            await self.store.persist(doc)
            await asyncio.to_thread(self._cleanup_runtime, doc)
            await self._release_network(doc)
            self.emit(doc, "die", exitCode=str(code))
            for fut in self.exit_waiters.pop(cid, []):
                if not fut.done():
                    fut.set_result({"StatusCode": code, "Error": None})
            restart = self._should_restart(doc, code)
        if restart:
            asyncio.ensure_future(self._restart_later(cid))
        elif doc["HostConfig"].get("AutoRemove"):
            try:
                await self.remove(cid, force=True, volumes=True)
            except NotFound:
                pass

    async def _release_network(self, doc: Doc) -> None:
        doc["_wharfie"].pop("netns", None)
        if self.network is None:
            return
        try:
            await self.network.release(doc)
        except (WharfieError, OSError) as e:
            log.warning("container %s: releasing its network: %s", doc["Id"][:12], e)
        await self.store.persist(doc)

    def _collect_execs(self, cid: str) -> None:
        for rec in self.execs.values():
            if rec["ContainerID"] == cid and rec["Running"]:
                path = os.path.join(self.state_dir(cid), f"exec-{rec['ID']}.json")
                result = _read_json(path)
                rec["Running"] = False
                rec["ExitCode"] = result.get("exit_code", 137) if result else 137

    def _should_restart(self, doc: Doc, code: int) -> bool:
        policy = doc["HostConfig"].get("RestartPolicy") or {}
        name = policy.get("Name") or "no"
        if doc["_wharfie"].get("manual_stop") or name == "no":
            return False
        if name == "on-failure":
            limit = int(policy.get("MaximumRetryCount") or 0)
            return code != 0 and (limit == 0 or doc["RestartCount"] < limit)
        return name in ("always", "unless-stopped")

    async def _restart_later(self, cid: str) -> None:
        doc = self.get(cid)
        # Docker's backoff: 100ms doubling, reset when the last run lasted ≥ 10s.
        ran = model.parse_time(doc["State"]["FinishedAt"]) - model.parse_time(doc["State"]["StartedAt"])
        delay = doc["_wharfie"].get("backoff", 0.05) * 2 if ran < 10 else 0.1
        doc["_wharfie"]["backoff"] = min(delay, 60.0)
        doc["State"]["Restarting"] = True
        doc["State"]["Status"] = "restarting"
        await self.store.persist(doc)
        await asyncio.sleep(delay)
        async with self.lock(cid):
            try:
                doc = self.get(cid)
            except NotFound:
                return
            if not doc["State"]["Restarting"] or doc["_wharfie"].get("manual_stop"):
                return
            doc["RestartCount"] += 1
            doc["State"]["Restarting"] = False
            try:
                await self._start_locked(doc)
                self.emit(doc, "restart")
            except WharfieError as e:
                log.warning("restart of %s failed: %s", cid[:12], e)

    def _force_kill(self, doc: Doc) -> None:
        """SIGKILL the shim and every process in the container's cgroup; wait until empty."""
        import time as _time

        try:
            with open(os.path.join(self.state_dir(doc["Id"]), "shim.pid")) as fh:
                os.kill(int(fh.read().strip()), signals.SIGKILL)
        except (OSError, ValueError):
            pass
        path = doc["_wharfie"].get("cgroup")
        if not path:
            return
        from wharfie.linux import cgroups

        try:
            cg = cgroups.Cgroup.open(path)
            deadline = _time.monotonic() + 5
            while cg.pids() and _time.monotonic() < deadline:
                cg.kill_all(signals.SIGKILL)
                _time.sleep(0.05)
        except OSError:
            pass

    def _cleanup_runtime(self, doc: Doc) -> None:
        """After an exit: unmount the rootfs, remove the cgroup and the shim's state dir."""
        cid = doc["Id"]
        cgroup_path = doc["_wharfie"].get("cgroup")
        if cgroup_path:
            try:
                from wharfie.linux import cgroups

                cgroups.Cgroup.open(cgroup_path).remove()
            except (OSError, FileNotFoundError):
                pass
        self.rootfs.unmount(cid)
        _remove_state_dir(self.state_dir(cid))

    # -- stop / kill / restart ---------------------------------------------------------------
    async def kill(self, ref: str, sig: str | int | None = None) -> None:
        doc = self.get(ref)
        n = signal_number(sig, signals.SIGKILL)
        if not doc["State"]["Running"]:
            raise Conflict(f"Cannot kill container: {ref}: Container {doc['Id']} is not running")
        if n in (signals.SIGKILL, signals.SIGTERM, signals.SIGINT) and doc["State"]["Paused"]:
            await asyncio.to_thread(self._freezer, doc, False)
        if n != signals.SIGKILL:
            await self.shim(doc["Id"]).request({"op": "kill", "signal": n})
            self.emit(doc, "kill", signal=str(n))
            return
        # Like dockerd's Kill: SIGKILL waits (bounded) until the container is no longer
        # running, so an inspect right after sees the exit.
        doc["_wharfie"]["manual_stop"] = doc["_wharfie"].get("manual_stop") or False
        exited = self._exit_future(doc["Id"])
        try:
            await self.shim(doc["Id"]).request({"op": "kill", "signal": n})
            self.emit(doc, "kill", signal=str(n))
            await asyncio.wait_for(asyncio.shield(exited), KILL_WAIT)
        except TimeoutError:
            log.warning("container %s: still running %ss after SIGKILL", doc["Id"][:12], KILL_WAIT)
        finally:
            if not exited.done():
                exited.cancel()

    async def stop(self, ref: str, timeout: int | None = None, sig: str | None = None) -> None:
        doc = self.get(ref)
        if not doc["State"]["Running"]:
            if doc["State"].get("Restarting"):
                doc["State"]["Restarting"] = False
                doc["_wharfie"]["manual_stop"] = True
                await self.store.persist(doc)
                return
            raise NotModified("container already stopped")
        cid = doc["Id"]
        doc["_wharfie"]["manual_stop"] = True
        await self.store.persist(doc)
        stop_sig = signal_number(sig or doc["Config"].get("StopSignal"), signals.SIGTERM)
        if timeout is None:
            timeout = doc["Config"].get("StopTimeout")
            timeout = 10 if timeout is None else int(timeout)
        exited = self._exit_future(cid)
        if doc["State"]["Paused"]:
            await asyncio.to_thread(self._freezer, doc, False)
        try:
            await self.shim(cid).request({"op": "kill", "signal": stop_sig})
        except NotFound:
            pass
        try:
            if timeout < 0:
                await exited
            else:
                await asyncio.wait_for(asyncio.shield(exited), timeout)
        except TimeoutError:
            try:
                await self.shim(cid).request({"op": "kill", "signal": signals.SIGKILL, "all": True})
            except NotFound:
                pass
            await exited
        self.emit(self.get(cid), "stop")

    async def restart(self, ref: str, timeout: int | None = None, sig: str | None = None) -> None:
        doc = self.get(ref)
        if doc["State"]["Running"]:
            await self.stop(ref, timeout, sig)
        await self.start(doc["Id"])
        self.emit(self.get(doc["Id"]), "restart")

    def _exit_future(self, cid: str) -> asyncio.Future[dict[str, Any]]:
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.exit_waiters.setdefault(cid, []).append(fut)
        return fut

    # -- wait ------------------------------------------------------------------------------
    def wait_future(self, ref: str, condition: str) -> asyncio.Future[dict[str, Any]]:
        """A future for `POST /wait`, created *now* (before start) so no exit is missed."""
        if condition not in WAIT_CONDITIONS:
            raise InvalidArgument(f"invalid condition: {condition!r}")
        doc = self.get(ref)
        cid = doc["Id"]
        loop = asyncio.get_running_loop()
        if condition == "removed":
            fut: asyncio.Future[dict[str, Any]] = loop.create_future()
            self.remove_waiters.setdefault(cid, []).append(fut)
            return fut
        if condition == "not-running" and not doc["State"]["Running"] and not doc["State"]["Restarting"]:
            fut = loop.create_future()
            fut.set_result({"StatusCode": doc["State"]["ExitCode"], "Error": None})
            return fut
        return self._exit_future(cid)

    # -- remove ----------------------------------------------------------------------------
    async def remove(self, ref: str, force: bool = False, volumes: bool = False) -> None:
        doc = self.get(ref)
        cid = doc["Id"]
        if doc["State"]["Running"] or doc["State"]["Restarting"]:
            if not force:
                what = "paused" if doc["State"]["Paused"] else "running"
                raise Conflict(f"cannot remove container \"{doc['Name']}\": container is {what}: stop "
                               "the container before removing or force remove")
            doc["_wharfie"]["manual_stop"] = True
            doc["State"]["Restarting"] = False
            if doc["State"]["Running"]:
                exited = self._exit_future(cid)
                if doc["State"]["Paused"]:
                    await asyncio.to_thread(self._freezer, doc, False)
                try:
                    await self.shim(cid).request({"op": "kill", "signal": signals.SIGKILL, "all": True})
                    await asyncio.wait_for(asyncio.shield(exited), 30)
                except (NotFound, TimeoutError, OSError):
                    # The shim is gone or stuck: kill the container ourselves, and only then
                    # record the exit (never tear down a rootfs under running processes).
                    await asyncio.to_thread(self._force_kill, doc)
                    await self._on_exit(cid, {"exit_code": 137})
        async with self.lock(cid):
            doc = self.get(cid)
            doc["State"]["Status"] = "removing"
            task = self.watchers.pop(cid, None)
            if task is not None and task is not asyncio.current_task():
                task.cancel()  # (auto-removal runs inside the watcher itself)
            await asyncio.to_thread(self._destroy, doc, volumes)
            self.store.delete(cid)
        self.emit(doc, "destroy")
        for fut in self.remove_waiters.pop(cid, []) + self.exit_waiters.pop(cid, []):
            if not fut.done():
                fut.set_result({"StatusCode": doc["State"]["ExitCode"], "Error": None})
        self.execs = {k: v for k, v in self.execs.items() if v["ContainerID"] != cid}
        self.locks.pop(cid, None)

    def _destroy(self, doc: Doc, volumes: bool) -> None:
        self._cleanup_runtime(doc)
        self.rootfs.destroy(doc["Id"])
        if volumes:
            self.volumes.remove_anonymous(doc)

    # -- pause / rename / update -------------------------------------------------------------
    def _freezer(self, doc: Doc, freeze: bool) -> None:
        from wharfie.linux import cgroups

        cg = cgroups.Cgroup.open(doc["_wharfie"]["cgroup"])
        cg.freeze() if freeze else cg.thaw()

    async def pause(self, ref: str) -> None:
        doc = self.get(ref)
        if not doc["State"]["Running"]:
            raise Conflict(f"Container {doc['Id']} is not running")
        if doc["State"]["Paused"]:
            raise Conflict(f"Container {doc['Id']} is already paused")
        await asyncio.to_thread(self._freezer, doc, True)
        doc["State"].update(Paused=True, Status="paused")
        await self.store.persist(doc)
        self.emit(doc, "pause")

    async def unpause(self, ref: str) -> None:
        doc = self.get(ref)
        if not doc["State"]["Paused"]:
            raise Conflict(f"Container {doc['Id']} is not paused")
        await asyncio.to_thread(self._freezer, doc, False)
        doc["State"].update(Paused=False, Status="running")
        await self.store.persist(doc)
        self.emit(doc, "unpause")

    async def rename(self, ref: str, new: str) -> None:
        doc = self.get(ref)
        if not new:
            raise InvalidArgument("Neither old nor new names may be empty")
        new_name = model.validate_name(new)
        if new_name == doc["Name"]:
            raise Conflict("Renaming a container with the same name as its current name")
        old = doc["Name"]
        self.store.rename(doc, new_name)
        self.emit(doc, "rename", oldName=old)

    async def update(self, ref: str, body: dict[str, Any]) -> list[str]:
        from wharfie.containers.specbuilder import resources_of

        doc = self.get(ref)
        hc = doc["HostConfig"]
        for key in ("Memory", "MemorySwap", "MemoryReservation", "NanoCpus", "CpuShares", "CpuPeriod",
                    "CpuQuota", "CpusetCpus", "CpusetMems", "PidsLimit", "BlkioWeight"):
            if key in body and body[key] is not None:
                hc[key] = body[key]
        if body.get("RestartPolicy"):
            hc["RestartPolicy"] = body["RestartPolicy"]
        await self.store.persist(doc)
        if doc["State"]["Running"] and doc["_wharfie"].get("cgroup"):
            from wharfie.linux import cgroups

            await asyncio.to_thread(cgroups.Cgroup.open(doc["_wharfie"]["cgroup"]).apply, resources_of(hc))
        self.emit(doc, "update")
        return []

    # -- commit ----------------------------------------------------------------------------
    async def commit(self, ref: str, repo: str, tag: str, comment: str, author: str, pause: bool,
                     changes: list[str], body: dict[str, Any]) -> str:
        """`docker commit`: the container's writable layer becomes a new image on its own."""
        from wharfie.images.changes import apply_changes

        doc = self.get(ref)
        cfg = {k: v for k, v in doc["Config"].items()}
        cfg.update({k: v for k, v in (body or {}).items() if v not in (None, "", [], {})})
        cfg = apply_changes(cfg, changes)
        target = ""
        if repo:
            target = f"{repo}:{tag}" if tag else repo
        freeze = pause and doc["State"]["Running"] and not doc["State"]["Paused"]
        if freeze:
            await asyncio.to_thread(self._freezer, doc, True)
        try:
            upper = str(self.rootfs.dir(doc["Id"]) / "diff")
            history = {"created_by": model.command_text(doc), **({"comment": comment} if comment else {})}
            image_id = await asyncio.to_thread(self.images.commit, doc["Image"], upper, cfg, history,
                                               [target] if target else [], author=author)
        finally:
            if freeze:
                await asyncio.to_thread(self._freezer, doc, False)
        self.emit(doc, "commit", comment=comment)
        return image_id

    # -- recovery --------------------------------------------------------------------------
    async def recover(self) -> None:
        """Reattach to shims of containers that were running when the daemon stopped."""
        try:
            await self.zygote.start()
        except (ShimError, OSError, TimeoutError) as e:
            log.warning("no shim zygote, shims start cold: %s", e)
        dead: list[tuple[Doc, dict[str, Any]]] = []
        alive_docs: list[Doc] = []
        for doc in self.store.all():
            cid = doc["Id"]
            if not (doc["State"]["Running"] or doc["State"]["Restarting"]):
                continue
            client = self.shim(cid)
            alive = False
            if client.alive():
                try:
                    state = await client.request({"op": "state"}, timeout=5)
                    alive = state.get("status") == "running"
                except (NotFound, OSError, TimeoutError, ValueError):
                    alive = False
            if alive:
                alive_docs.append(doc)
                continue
            info = _read_exit(self.state_dir(cid)) or {"exit_code": 255, "finished_at": model.now_rfc3339()}
            if doc["State"]["Restarting"]:
                doc["State"]["Restarting"] = False
                await self.store.persist(doc)
            dead.append((doc, info))
        if self.network is not None:  # before any exit re-renders the rules: ports stay up
            await self.network.restore(alive_docs)
        for doc in alive_docs:
            self._watch(doc["Id"])
        for doc, info in dead:
            await self._on_exit(doc["Id"], info)
        await asyncio.to_thread(self._remove_stale_cgroups)
        for d in self.store.all():
            if d["HostConfig"].get("RestartPolicy", {}).get("Name") == "always" and not d["State"]["Running"] \
                    and not d["_wharfie"].get("manual_stop"):
                try:
                    await self.start(d["Id"])
                except WharfieError as e:
                    log.warning("could not restart %s: %s", d["Id"][:12], e)

    def _remove_stale_cgroups(self) -> None:
        """Cgroups of our stopped containers that a crash left behind (a start cut short, a
        cleanup never run): removed once empty. Other daemons' cgroups are never touched."""
        from wharfie.linux import cgroups

        for doc in self.store.all():
            path = doc["_wharfie"].get("cgroup")
            if not path or doc["State"]["Running"] or doc["State"]["Restarting"]:
                continue
            try:
                cg = cgroups.Cgroup.open(path)
                if not cg.pids():
                    cg.remove()
            except FileNotFoundError:
                continue  # the usual case: removed when the container stopped
            except OSError as e:
                log.warning("stale cgroup %s of %s stays: %s", path, doc["Id"][:12], e)

    async def shutdown(self) -> None:
        """The daemon is stopping: leave containers running (live restore), drop watchers."""
        for t in self.watchers.values():
            t.cancel()
        await self.zygote.stop()
        if self.network is not None:
            await self.network.shutdown()


RUNTIMES = ("wharfie", "runc")
# log drivers and the options each takes (json-file: max-size and max-file are applied; the
# rest are accepted like Docker's)
LOG_DRIVERS = {"json-file": ("max-size", "max-file", "compress", "labels", "labels-regex", "env", "env-regex",
                             "tag"),
               "none": ()}  # nothing stored: attach still streams, `logs` can't read


def runtimes() -> dict[str, dict[str, str]]:
    """The executors this daemon can use: the built-in one, and runc when installed."""
    import shutil

    found = {"wharfie": {"path": "wharfie-shim"}}
    runc = shutil.which("runc")
    if runc:
        found["runc"] = {"path": runc}
    return found


def _validate_host(host: dict[str, Any]) -> None:
    runtime = host.get("Runtime") or "wharfie"
    if runtime not in runtimes():
        raise InvalidArgument(f"unknown or invalid runtime name: {runtime}")
    log_config = host.get("LogConfig") or {}
    driver = log_config.get("Type") or "json-file"
    if driver not in LOG_DRIVERS:  # the shim writes json-file logs (or none)
        raise InvalidArgument(f"logger: no log driver named '{driver}' is registered")
    for opt in log_config.get("Config") or {}:
        if opt not in LOG_DRIVERS[driver]:
            raise InvalidArgument(f"unknown log opt '{opt}' for {driver} log driver")
    policy = host.get("RestartPolicy") or {}
    name = policy.get("Name") or "no"
    if name not in ("no", "always", "unless-stopped", "on-failure"):
        raise InvalidArgument(f"invalid restart policy '{name}'")
    if name != "on-failure" and policy.get("MaximumRetryCount"):
        raise InvalidArgument("invalid restart policy: maximum retry count can only be used with 'on-failure'")
    if host.get("AutoRemove") and name != "no":
        raise InvalidArgument("can't create 'AutoRemove' container with restart policy")
    mem = host.get("Memory") or 0
    if mem and mem < 6 * 1024 * 1024:
        raise InvalidArgument("Minimum memory limit allowed is 6MB")
    swap = host.get("MemorySwap") or 0
    if swap > 0 and mem and swap < mem:
        raise InvalidArgument("Minimum memoryswap limit should be larger than memory limit, see usage")
    if host.get("NanoCpus") and host.get("CpuQuota"):
        raise InvalidArgument("Conflicting options: Nano CPUs and CPU Period cannot both be set")


def _write_json(path: str, obj: Any) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(obj, fh)
    os.replace(tmp, path)


def _read_json(path: str) -> dict[str, Any] | None:
    try:
        with open(path) as fh:
            data = json.load(fh)
            return data if isinstance(data, dict) else None
    except (OSError, ValueError):
        return None


def _read_exit(state_dir: str) -> dict[str, Any] | None:
    return _read_json(os.path.join(state_dir, "exit.json"))


def _remove_state_dir(path: str) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)
