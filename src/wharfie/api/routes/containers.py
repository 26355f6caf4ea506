"""Container, exec and volume routes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from typing import TYPE_CHECKING, Any

from wharfie.api.http import Hijack, Request, Response, empty_response, json_response
from wharfie.api.server import Router
from wharfie.api.streams import spool_body, thread_bytes
from wharfie.containers import queries, streams
from wharfie.errors import InvalidArgument, NotFound
from wharfie.images import filters as flt

if TYPE_CHECKING:
    from wharfie.daemon import Daemon

RAW = "application/vnd.docker.raw-stream"
MUX = "application/vnd.docker.multiplexed-stream"


def _opt_int(request: Request, name: str) -> int | None:
    raw = request.arg(name)
    if raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise InvalidArgument(f"invalid value for {name}: {raw!r}") from None


def _timestamp_ns(value: str) -> int:
    """The CLI sends `seconds.nanoseconds`: parse it exactly (a float would round past the
    log entry the user pointed at); other forms go through the filter time parser. 0 = unset."""
    if value in ("", "0"):
        return 0
    secs, dot, frac = value.partition(".")
    if secs.isdigit() and (not dot or frac.isdigit()):
        return int(secs) * 1_000_000_000 + int((frac + "000000000")[:9])
    return int(flt.parse_until(value, time.time()) * 1e9)


def register(router: Router, d: Daemon) -> None:
    svc = d.containers

    # -- containers ------------------------------------------------------------------------
    @router.route("POST", "/containers/create")
    async def create(request: Request) -> Response:
        body = await request.json()
        cid, warnings = await svc.create(body or {}, request.arg("name"))
        return json_response({"Id": cid, "Warnings": warnings}, 201)

    @router.route("GET", "/containers/json")
    async def ps(request: Request) -> Response:
        return json_response(await asyncio.to_thread(
            queries.list_containers, svc, request.flag("all"), request.int_arg("limit", -1),
            request.flag("size"), request.arg("filters") or None, request.arg("before"), request.arg("since")))

    @router.route("POST", "/containers/prune")
    async def prune(request: Request) -> Response:
        return json_response(await queries.prune(svc, request.arg("filters") or None))

    @router.route("GET", "/containers/{id}/json")
    async def inspect(request: Request) -> Response:
        return json_response(await asyncio.to_thread(queries.inspect, svc, request.params["id"], request.flag("size")))

    @router.route("POST", "/containers/{id}/start")
    async def start(request: Request) -> Response:
        await svc.start(request.params["id"])
        return empty_response(204)

    @router.route("POST", "/containers/{id}/stop")
    async def stop(request: Request) -> Response:
        await svc.stop(request.params["id"], _opt_int(request, "t"), request.arg("signal") or None)
        return empty_response(204)

    @router.route("POST", "/containers/{id}/restart")
    async def restart(request: Request) -> Response:
        await svc.restart(request.params["id"], _opt_int(request, "t"), request.arg("signal") or None)
        return empty_response(204)

    @router.route("POST", "/containers/{id}/kill")
    async def kill(request: Request) -> Response:
        await svc.kill(request.params["id"], request.arg("signal") or None)
        return empty_response(204)

    @router.route("POST", "/containers/{id}/pause")
    async def pause(request: Request) -> Response:
        await svc.pause(request.params["id"])
        return empty_response(204)

    @router.route("POST", "/containers/{id}/unpause")
    async def unpause(request: Request) -> Response:
        await svc.unpause(request.params["id"])
        return empty_response(204)

    @router.route("POST", "/containers/{id}/rename")
    async def rename(request: Request) -> Response:
        await svc.rename(request.params["id"], request.arg("name"))
        return empty_response(204)

    @router.route("POST", "/containers/{id}/update")
    async def update(request: Request) -> Response:
        warnings = await svc.update(request.params["id"], await request.json() or {})
        return json_response({"Warnings": warnings})

    @router.route("DELETE", "/containers/{id}")
    async def remove(request: Request) -> Response:
        await svc.remove(request.params["id"], request.flag("force"), request.flag("v"))
        return empty_response(204)

    @router.route("POST", "/containers/{id}/wait")
    async def wait(request: Request) -> Response:
        fut = svc.wait_future(request.params["id"], request.arg("condition") or "not-running")

        async def body() -> Any:
            yield b""  # the headers must go out now: the CLI starts the container only after
            try:
                result = await fut
            finally:
                if not fut.done():
                    fut.cancel()
            import json

            yield json.dumps(result).encode() + b"\n"

        return Response(200, body())

    @router.route("POST", "/containers/{id}/attach")
    async def attach(request: Request) -> Hijack:
        doc = svc.get(request.params["id"])
        tty = bool(doc["Config"].get("Tty"))
        slot = streams.AttachSlot(svc, doc["Id"], request.flag("stdin"), request.flag("stdout"),
                                  request.flag("stderr"), request.arg("detachKeys"),
                                  logs=request.flag("logs"), stream=request.flag("stream"))
        return Hijack(slot.run, RAW if tty else MUX)

    @router.route("POST", "/containers/{id}/resize")
    async def resize(request: Request) -> Response:
        doc = svc.get(request.params["id"])
        if not doc["State"]["Running"]:
            raise NotFound(f"Container {doc['Id']} is not running")
        await svc.shim(doc["Id"]).request({"op": "resize", "height": request.int_arg("h", 0),
                                           "width": request.int_arg("w", 0)})
        return Response(200, b"", content_type="text/plain; charset=utf-8")

    @router.route("GET", "/containers/{id}/logs")
    async def logs(request: Request) -> Response:
        doc = svc.get(request.params["id"])
        stdout, stderr = request.flag("stdout"), request.flag("stderr")
        if not (stdout or stderr):
            raise InvalidArgument("Bad parameters: you must choose at least one stream")
        streams.check_readable_logs(doc)  # an HTTP error, before the stream starts
        since, until = _timestamp_ns(request.arg("since")), _timestamp_ns(request.arg("until"))
        body = streams.logs(svc, doc["Id"], stdout=stdout, stderr=stderr, follow=request.flag("follow"),
                            since_ns=since, until_ns=until, tail=request.arg("tail") or "all",
                            timestamps=request.flag("timestamps"))
        tty = bool(doc["Config"].get("Tty"))
        return Response(200, body, content_type=RAW if tty else MUX)

    @router.route("GET", "/containers/{id}/top")
    async def top(request: Request) -> Response:
        return json_response(await asyncio.to_thread(queries.top, svc, request.params["id"], request.arg("ps_args")))

    @router.route("GET", "/containers/{id}/stats")
    async def stats(request: Request) -> Response:
        svc.get(request.params["id"])
        stream = request.arg("stream") in ("", "1", "true", "True")
        return Response(200, queries.stats(svc, request.params["id"], stream, request.flag("one-shot")))

    @router.route("GET", "/containers/{id}/archive")
    async def archive_get(request: Request) -> Response:
        path = request.arg("path")
        if not path:
            raise InvalidArgument("path is required")
        header = await asyncio.to_thread(queries.path_stat, svc, request.params["id"], path)
        if request.method == "HEAD":
            return Response(200, b"", [("X-Docker-Container-Path-Stat", header)], content_type=None)
        body = thread_bytes(lambda out: queries.write_archive(svc, request.params["id"], path, out))
        return Response(200, body, [("X-Docker-Container-Path-Stat", header)], content_type="application/x-tar")

    @router.route("GET", "/containers/{id}/changes")
    async def changes(request: Request) -> Response:
        return json_response(await asyncio.to_thread(queries.changes, svc, request.params["id"]) or None)

    @router.route("GET", "/containers/{id}/export")
    async def export(request: Request) -> Response:
        svc.get(request.params["id"])  # a 404 before the 200
        body = thread_bytes(lambda out: queries.export_rootfs(svc, request.params["id"], out))
        return Response(200, body, content_type="application/octet-stream")

    @router.route("PUT", "/containers/{id}/archive")
    async def archive_put(request: Request) -> Response:
        path = request.arg("path")
        if not path:
            raise InvalidArgument("path is required")
        svc.get(request.params["id"])
        tmp = os.path.join(d.images.tmp, f"cp-{uuid.uuid4().hex}")
        try:
            await spool_body(request, tmp)
            await asyncio.to_thread(queries.extract_archive, svc, request.params["id"], path, tmp,
                                    request.flag("noOverwriteDirNonDir"))
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        return Response(200, b"", content_type=None)

    @router.route("POST", "/commit")
    async def commit(request: Request) -> Response:
        body = await request.json() or {}
        image_id = await svc.commit(request.arg("container"), request.arg("repo"), request.arg("tag"),
                                    request.arg("comment"), request.arg("author"),
                                    request.arg("pause") in ("", "1", "true", "True"), request.args("changes"),
                                    body if isinstance(body, dict) else {})
        return json_response({"Id": image_id}, 201)

    # -- exec ------------------------------------------------------------------------------
    @router.route("POST", "/containers/{id}/exec")
    async def exec_create(request: Request) -> Response:
        eid = streams.exec_create(svc, request.params["id"], await request.json() or {})
        return json_response({"Id": eid}, 201)

    @router.route("POST", "/exec/{id}/start")
    async def exec_start(request: Request) -> Response | Hijack:
        body = await request.json() or {}
        eid = request.params["id"]
        rec = streams.exec_record(svc, eid)
        if body.get("Detach"):
            await streams.exec_start(svc, eid, True, body.get("Tty"), None)
            return Response(200, b"", content_type=None)
        tty = streams.exec_framing_raw(rec, body.get("Tty"))

        async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, early: bytes) -> None:
            await streams.exec_start(svc, eid, False, body.get("Tty"), (reader, writer, early))

        return Hijack(run, RAW if tty else MUX)

    @router.route("POST", "/exec/{id}/resize")
    async def exec_resize(request: Request) -> Response:
        rec = streams.exec_record(svc, request.params["id"])
        await svc.shim(rec["ContainerID"]).request({"op": "resize", "exec": rec["ID"],
                                                    "height": request.int_arg("h", 0),
                                                    "width": request.int_arg("w", 0)})
        return Response(201, b"", content_type=None)

    @router.route("GET", "/exec/{id}/json")
    async def exec_inspect(request: Request) -> Response:
        rec = streams.exec_record(svc, request.params["id"])
        await streams.refresh_exec(svc, rec)
        return json_response(streams.exec_inspect(rec))

    # -- volumes ---------------------------------------------------------------------------
    vols = d.volumes

    @router.route("GET", "/volumes")
    async def volume_list(request: Request) -> Response:
        return json_response({"Volumes": await asyncio.to_thread(vols.list_volumes, request.arg("filters") or None),
                              "Warnings": None})

    @router.route("POST", "/volumes/create")
    async def volume_create(request: Request) -> Response:
        body = await request.json() or {}
        vol = await asyncio.to_thread(vols.create, body.get("Name") or "", body.get("Driver") or "local",
                                      body.get("DriverOpts") or {}, body.get("Labels") or {})
        return json_response(vol, 201)

    @router.route("POST", "/volumes/prune")
    async def volume_prune(request: Request) -> Response:
        return json_response(await asyncio.to_thread(vols.prune, request.arg("filters") or None))

    @router.route("GET", "/volumes/{name}")
    async def volume_inspect(request: Request) -> Response:
        return json_response(await asyncio.to_thread(vols.inspect, request.params["name"]))

    @router.route("DELETE", "/volumes/{name}")
    async def volume_remove(request: Request) -> Response:
        await asyncio.to_thread(vols.remove, request.params["name"], request.flag("force"))
        return empty_response(204)
