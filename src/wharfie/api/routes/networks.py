"""`/networks` routes: list, inspect, create, remove, prune, connect, disconnect."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from wharfie.api.http import Request, Response, empty_response, json_response
from wharfie.api.server import Router
from wharfie.errors import InvalidArgument

if TYPE_CHECKING:
    from wharfie.containers.store import Doc
    from wharfie.daemon import Daemon


def register(router: Router, d: Daemon) -> None:
    nets = d.networks
    containers = d.containers

    @router.route("GET", "/networks")
    async def network_list(request: Request) -> Response:
        return json_response(nets.list_networks(request.arg("filters") or None))

    @router.route("POST", "/networks/create")
    async def network_create(request: Request) -> Response:
        body = await request.json()
        return json_response({"Id": await nets.create(body or {}), "Warning": ""}, 201)

    @router.route("POST", "/networks/prune")
    async def network_prune(request: Request) -> Response:
        return json_response({"NetworksDeleted": await nets.prune(request.arg("filters") or None)})

    @router.route("GET", "/networks/{id}")
    async def network_inspect(request: Request) -> Response:
        return json_response(nets.inspect(request.params["id"]))

    @router.route("DELETE", "/networks/{id}")
    async def network_remove(request: Request) -> Response:
        await nets.remove(request.params["id"])
        return empty_response(204)

    async def change_endpoint(request: Request, change: Callable[[Doc, dict[str, Any]], Awaitable[None]]) -> None:
        """connect/disconnect: under the container's lock, then its new state saved."""
        body = await request.json() or {}
        if not body.get("Container"):
            raise InvalidArgument("no container specified")
        doc = containers.get(str(body["Container"]))
        async with containers.lock(doc["Id"]):
            doc = containers.get(doc["Id"])
            await change(doc, body)
            await containers.store.persist(doc)

    @router.route("POST", "/networks/{id}/connect")
    async def network_connect(request: Request) -> Response:
        await change_endpoint(request, lambda doc, body: nets.connect(
            request.params["id"], doc, body.get("EndpointConfig") or {}))
        return empty_response(200)

    @router.route("POST", "/networks/{id}/disconnect")
    async def network_disconnect(request: Request) -> Response:
        await change_endpoint(request, lambda doc, body: nets.disconnect(
            request.params["id"], doc, bool(body.get("Force"))))
        return empty_response(200)
