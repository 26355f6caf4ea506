"""`POST /build` (the legacy builder's API, what docker CLI 28 without buildx uses) and
`POST /build/prune`."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from wharfie.api.http import Request, Response, json_response
from wharfie.api.server import Router
from wharfie.api.streams import encode, error_message, spool_body
from wharfie.errors import InvalidArgument

if TYPE_CHECKING:
    from wharfie.daemon import Daemon


def _json_arg(request: Request, name: str) -> dict[str, Any]:
    raw = request.arg(name)
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError as e:
        raise InvalidArgument(f"invalid {name}: {e}") from None
    if not isinstance(value, dict):
        raise InvalidArgument(f"invalid {name}: want a JSON object")
    return value


def _json_list(request: Request, name: str) -> list[str]:
    raw = request.arg(name)
    if not raw:
        return []
    try:
        value = json.loads(raw)
    except ValueError as e:
        raise InvalidArgument(f"invalid {name}: {e}") from None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidArgument(f"invalid {name}: want a JSON array of strings")
    return value


def _cache_sources(d: Daemon, refs: list[str]) -> set[str] | None:
    """`--cache-from`: like dockerd, a cached step counts only when it is one of these images or
    one of their ancestors; names that don't resolve are skipped (none left: no cache at all).
    Without the option every local image may serve (None)."""
    from wharfie.errors import NotFound

    if not refs:
        return None
    allowed: set[str] = set()
    for ref in refs:
        try:
            image_id = d.images.resolve(ref)
        except NotFound:
            continue
        while image_id and image_id not in allowed:
            allowed.add(image_id)
            row = d.images.db.image(image_id)
            image_id = row.parent if row is not None else ""
    return allowed


def _puller(d: Daemon, request: Request, queue: asyncio.Queue[dict[str, Any] | None]) -> Any:
    """Pull a FROM image with the credentials `docker build` sent (X-Registry-Config); the
    pull's progress goes into the build stream, as dockerd's does."""
    from wharfie.oci import reference
    from wharfie.registry.authconfig import auth_for, decode_config_header

    configs = decode_config_header(request.headers.get("x-registry-config"))
    platform = request.arg("platform")
    loop = asyncio.get_running_loop()

    def emit(msg: dict[str, Any]) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, msg)

    async def pull(name: str) -> str:
        auth = auth_for(reference.parse_docker_ref(name).domain, configs)
        # d.registry is built on first use (imports httpx): never on the loop
        image_id: str = await asyncio.to_thread(lambda: d.registry.pull(name, platform, auth, emit))
        return image_id

    return pull


def register(router: Router, d: Daemon) -> None:
    @router.route("POST", "/build")
    async def build(request: Request) -> Response:
        from wharfie.build.builder import Builder, BuildRequest
        from wharfie.build.context import BuildContext
        from wharfie.build.state import BuildOptions

        if request.arg("version") not in ("", "1", "2"):
            raise InvalidArgument(f"invalid version {request.arg('version')!r}: only 1 (the legacy builder) is supported")
        if request.arg("remote"):
            raise InvalidArgument("remote build contexts are not supported: send the context as a tar")
        opts = BuildOptions(
            no_cache=request.flag("nocache"),
            network=request.arg("networkmode") or "bridge",  # RUN steps on the default bridge
            build_args={k: (None if v is None else str(v)) for k, v in _json_arg(request, "buildargs").items()},
            labels={k: str(v) for k, v in _json_arg(request, "labels").items()},
            source_date_epoch=int(_json_arg(request, "buildargs").get("SOURCE_DATE_EPOCH") or 0),
            extra_hosts=[h for h in request.args("extrahosts") if h],
            cache_sources=await asyncio.to_thread(_cache_sources, d, _json_list(request, "cachefrom")),
        )
        if opts.network == "default":
            opts.network = "bridge"  # docker build --network default|bridge|host|none
        req = BuildRequest(dockerfile=request.arg("dockerfile") or "Dockerfile", tags=request.args("t"),
                           target=request.arg("target"), quiet=request.flag("q"), pull=request.flag("pull"),
                           opts=opts)
        tar = os.path.join(d.images.tmp, f"build-{uuid.uuid4().hex}")
        try:
            await spool_body(request, tar)
            context = BuildContext(d.images.tmp)
            try:
                await asyncio.to_thread(context.unpack, tar)
            except BaseException:
                context.cleanup()
                raise
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tar)

        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        puller = _puller(d, request, queue)
        builder = Builder(d.images, d.containers, d.build_cache, context, req, queue.put_nowait, puller)
        try:
            await asyncio.to_thread(builder.prepare)
        except BaseException:
            await asyncio.to_thread(context.cleanup)
            raise

        async def stream() -> AsyncIterator[bytes]:
            async def run() -> None:
                try:
                    await builder.build()
                except Exception as e:  # reported in-band: the 200 has already gone out
                    queue.put_nowait(error_message(e))
                finally:
                    await asyncio.to_thread(context.cleanup)
                    queue.put_nowait(None)

            task = asyncio.ensure_future(run())
            try:
                while (msg := await queue.get()) is not None:
                    yield encode(msg)
            finally:
                if not task.done():
                    task.cancel()

        return Response(200, stream())

    @router.route("POST", "/build/prune")
    async def prune(request: Request) -> Response:
        keys = await asyncio.to_thread(d.build_cache.clear)
        return json_response({"CachesDeleted": keys or None, "SpaceReclaimed": 0})
