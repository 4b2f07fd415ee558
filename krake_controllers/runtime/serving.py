"""A controller process's HTTP side: `/metrics` and `/healthz` (200 once every
controller's informers have synced)."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from krake_controllers.runtime.metrics import ControllerMetrics

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


async def serve_http(
    metrics: ControllerMetrics, ready: Callable[[], bool], address: str
) -> tuple[web.AppRunner, int]:
    async def scrape(_: web.Request) -> web.Response:
        return web.Response(body=metrics.render(), headers={"Content-Type": CONTENT_TYPE})

    async def health(_: web.Request) -> web.Response:
        return web.Response(text="ok\n") if ready() else web.Response(status=503, text="syncing\n")

    app = web.Application()
    app.router.add_get("/metrics", scrape)
    app.router.add_get("/healthz", health)
    host, _, port = address.rpartition(":")
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, host.strip("[]"), int(port)).start()
    return runner, runner.addresses[0][1]
