"""`add_routes` in an application that serves routes of its own (`krake-api`'s
`GET /`, `/healthz`, `/metrics`): those win, whatever the registration order."""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp import web
from gateway_echo import ECHO, EchoBackend
from gateway_support import Serve

from krake_api.gateway import add_routes


async def _text(request: web.Request) -> web.Response:
    return web.Response(text=f"own {request.path}")


@pytest.mark.parametrize("gateway_first", [True, False])
async def test_the_applications_own_routes_win(
    http: aiohttp.ClientSession, serve: Serve, gateway_first: bool
) -> None:
    app = web.Application()
    if gateway_first:
        add_routes(app, EchoBackend(), services=[ECHO])
    for path in ("/", "/healthz", "/metrics"):
        app.router.add_get(path, _text)
    if not gateway_first:
        add_routes(app, EchoBackend(), services=[ECHO])
    base = await serve(app)
    for path in ("/", "/healthz", "/metrics"):
        async with http.get(base + path) as response:
            assert (response.status, await response.text()) == (200, f"own {path}")
    async with http.get(f"{base}/v1/echo/abc") as response:
        assert (await response.json())["name"] == "abc"
    async with http.get(f"{base}/healthz/x") as response:
        assert response.status == 404
        assert (await response.json())["code"] == 5
