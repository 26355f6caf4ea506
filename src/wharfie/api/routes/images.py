"""Image routes: list, inspect, history, tag, remove, prune, load, save, import."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from wharfie.api.http import Request, Response, json_response
from wharfie.api.server import Router, version_tuple
from wharfie.api.streams import Message, json_messages, spool_body, thread_bytes
from wharfie.archive.compression import detect, open_decompressed
from wharfie.errors import InvalidArgument
from wharfie.images import archive_load, archive_save, tarball_import

if TYPE_CHECKING:
    from wharfie.daemon import Daemon

MAX_ARCHIVE = 256 << 30  # a compressed archive may not expand past this (bomb guard)


def register(router: Router, d: Daemon) -> None:
    images = d.images

    @router.route("GET", "/images/json")
    async def list_images(request: Request) -> Response:
        version = version_tuple(request.api_version)

        def work() -> list[dict[str, Any]]:
            found = images.list_images(request.arg("filters") or None, request.flag("all"))
            return [images.summary(i, version) for i in found]

        return json_response(await asyncio.to_thread(work))

    @router.route("POST", "/images/load")
    async def load(request: Request) -> Response:
        spooled = await _spool_decompressed(d, request)
        quiet = request.flag("quiet")
        platform = request.arg("platform")

        def job(emit: Callable[[Message], None]) -> None:
            try:
                def say(line: str) -> None:
                    emit({"stream": line + "\n"})

                archive_load.load_archive(images, spooled, say, platform)
            finally:
                os.unlink(spooled)

        _ = quiet  # the only progress we report is the final lines, which -q keeps too
        return Response(200, json_messages(job))

    @router.route("GET", "/images/get")
    async def save_many(request: Request) -> Response:
        return await _save(d, request.args("names"))

    @router.route("GET", "/images/{name:path}/get")
    async def save_one(request: Request) -> Response:
        return await _save(d, [request.params["name"]])

    @router.route("POST", "/images/create")
    async def create(request: Request) -> Response:
        if request.arg("fromImage"):
            from wharfie.api.routes import registry

            return await registry.pull(d, request)
        src = request.arg("fromSrc")
        if src != "-":
            raise InvalidArgument("import from a URL is not supported; send the tarball as the body (fromSrc=-)")
        spooled = os.path.join(images.tmp, f"import-{uuid.uuid4().hex}")
        await spool_body(request, spooled)

        def job(emit: Callable[[Message], None]) -> None:
            try:
                image_id = tarball_import.import_tarball(
                    images, spooled, request.arg("repo"), request.arg("tag"), request.args("changes"),
                    request.arg("message"), request.arg("platform"))
                emit({"status": image_id})
            finally:
                os.unlink(spooled)

        return Response(200, json_messages(job))

    @router.route("GET", "/images/{name:path}/json")
    async def inspect(request: Request) -> Response:
        version = version_tuple(request.api_version)
        return json_response(await asyncio.to_thread(images.inspect, request.params["name"], version))

    @router.route("GET", "/images/{name:path}/history")
    async def history(request: Request) -> Response:
        return json_response(await asyncio.to_thread(images.history, request.params["name"]))

    @router.route("POST", "/images/{name:path}/tag")
    async def tag(request: Request) -> Response:
        await asyncio.to_thread(images.tag, request.params["name"], request.arg("repo"), request.arg("tag"))
        return Response(201, b"", content_type=None)

    @router.route("DELETE", "/images/{name:path}")
    async def remove(request: Request) -> Response:
        records = await asyncio.to_thread(images.remove, request.params["name"], request.flag("force"))
        return json_response(records)

    @router.route("POST", "/images/prune")
    async def prune(request: Request) -> Response:
        return json_response(await asyncio.to_thread(images.prune, request.arg("filters") or None))


async def _spool_decompressed(d: Daemon, request: Request) -> str:
    """Spool the body to a temp file, decompressing gzip/zstd/… so it can be read at random."""
    raw = os.path.join(d.images.tmp, f"load-{uuid.uuid4().hex}")
    await spool_body(request, raw)

    def unpack() -> str:
        with open(raw, "rb") as fh:
            kind = detect(fh.read(8))
        if kind == "none":
            return raw
        plain = raw + ".tar"
        try:
            with open(raw, "rb") as src, open_decompressed(src) as dec, open(plain, "xb") as dst:
                total = 0
                while chunk := dec.read(1 << 20):
                    total += len(chunk)
                    if total > MAX_ARCHIVE:
                        raise InvalidArgument(f"archive expands beyond {MAX_ARCHIVE} bytes")
                    dst.write(chunk)
        except BaseException:
            if os.path.exists(plain):
                os.unlink(plain)
            raise
        finally:
            os.unlink(raw)
        return plain

    return await asyncio.to_thread(unpack)


async def _save(d: Daemon, names: list[str]) -> Response:
    items = await asyncio.to_thread(archive_save.plan, d.images, names)

    def job(out: Any) -> None:
        archive_save.write_archive(d.images, items, out)
        for item in items:
            d.events.publish("image", "save", item.image.id, {"name": item.image.id})

    return Response(200, thread_bytes(job), content_type="application/x-tar")
