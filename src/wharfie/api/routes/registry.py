"""Registry routes: pull (`/images/create?fromImage=`), push, `/auth`, search, distribution."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from wharfie.api.http import Request, Response, json_response
from wharfie.api.server import Router
from wharfie.api.streams import Message, json_messages
from wharfie.errors import InvalidArgument
from wharfie.oci import reference
from wharfie.registry.authconfig import AuthConfig, decode_header

if TYPE_CHECKING:
    from wharfie.daemon import Daemon


def pull_reference(from_image: str, tag: str) -> str:
    """`fromImage` + `tag` as moby combines them: a digest in `tag` pins, a tag replaces."""
    ref = reference.parse(from_image)
    if tag:
        if ":" in tag and tag.split(":", 1)[0] in ("sha256", "sha384", "sha512"):
            ref = ref.name_only().with_digest(tag)
        else:
            ref = ref.with_tag(tag)
    return str(ref)


def request_auth(request: Request) -> AuthConfig:
    return decode_header(request.headers.get("x-registry-auth"))


async def registry_service(d: Daemon) -> Any:
    """The daemon's registry service; made (httpx import, one SQLite write) off the loop."""
    return await asyncio.to_thread(lambda: d.registry)


async def pull(d: Daemon, request: Request) -> Response:
    """`POST /images/create?fromImage=…`: resolve first (HTTP errors), then stream progress.
    Without a tag (`docker pull --all-tags`) every tag of the repository is pulled."""
    name = pull_reference(request.arg("fromImage"), request.arg("tag"))
    platform = request.arg("platform")
    auth = request_auth(request)
    await request.drain()
    registry = await registry_service(d)
    ref = reference.parse(name)
    names = [name]
    if ref.tag is None and ref.digest is None:
        names = [str(ref.with_tag(t)) for t in await asyncio.to_thread(registry.list_tags, name, auth)]
        if not names:
            raise InvalidArgument(f"no tags found for {ref.familiar_name}")
    plan = await asyncio.to_thread(registry.prepare_pull, names[0], platform, auth)

    def job(emit: Callable[[Message], None]) -> None:
        registry.run_pull(plan, emit)
        for other in names[1:]:
            registry.run_pull(registry.prepare_pull(other, platform, auth), emit)

    return Response(200, json_messages(job))


def register(router: Router, d: Daemon) -> None:
    @router.route("POST", "/images/{name:path}/push")
    async def push(request: Request) -> Response:
        auth = request_auth(request)
        await request.drain()
        registry = await registry_service(d)
        targets = await asyncio.to_thread(registry.push_targets, request.params["name"], request.arg("tag"))

        def job(emit: Callable[[Message], None]) -> None:
            registry.push(targets, auth, emit)

        return Response(200, json_messages(job))

    @router.route("POST", "/auth")
    async def auth(request: Request) -> Response:
        body = await request.json()
        if body is None:
            raise InvalidArgument("missing auth configuration")
        cfg = AuthConfig.from_json(body)
        status, identity_token = await asyncio.to_thread(lambda: d.registry.login(cfg))
        return json_response({"Status": status, "IdentityToken": identity_token})

    @router.route("GET", "/images/search")
    async def search(request: Request) -> Response:
        term = request.arg("term")
        if not term:
            raise InvalidArgument("search term is required")
        limit = request.int_arg("limit", 25)
        auth = request_auth(request)
        results: list[dict[str, Any]] = await asyncio.to_thread(lambda: d.registry.search(term, limit, auth))
        return json_response(results)

    @router.route("GET", "/distribution/{name:path}/json")
    async def distribution(request: Request) -> Response:
        name, auth = request.params["name"], request_auth(request)
        return json_response(await asyncio.to_thread(lambda: d.registry.distribution_inspect(name, auth)))
