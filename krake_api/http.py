"""The API server's HTTP side: `/metrics`, `/healthz`; the gateway adds its routes.

`/healthz` answers 200 `ok` while the server serves and its storage answers a
revision read within `HEALTH_TIMEOUT`; 503 with the reason otherwise (also while
draining after SIGTERM), so a load balancer stops sending work first.
"""

from __future__ import annotations

import asyncio
from typing import Final

from aiohttp import web

from krake_api.metrics import CONTENT_TYPE, Metrics
from krake_api.storage.base import StorageError, Store

HEALTH_TIMEOUT: Final = 2.0


class Health:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.serving = True

    async def handle(self, _: web.Request) -> web.Response:
        if not self.serving:
            return web.Response(status=503, text="draining\n")
        try:
            async with asyncio.timeout(HEALTH_TIMEOUT):
                await self.store.revision()
        except (StorageError, TimeoutError) as err:
            return web.Response(status=503, text=f"storage: {err or 'no answer'}\n")
        return web.Response(text="ok\n")


def application(metrics: Metrics, health: Health) -> web.Application:
    async def scrape(_: web.Request) -> web.Response:
        return web.Response(body=metrics.render(), headers={"Content-Type": CONTENT_TYPE})

    app = web.Application()
    app.router.add_get("/metrics", scrape)
    app.router.add_get("/healthz", health.handle)
    return app


async def start(app: web.Application, address: str) -> tuple[web.AppRunner, int]:
    """Serve `app` on HOST:PORT (port 0: a free one); returns the runner and port."""
    host, _, port = address.rpartition(":")
    # handler_cancellation: a closed connection cancels its handler (and the
    # gateway's gRPC watch stream) at once
    runner = web.AppRunner(app, access_log=None, handle_signals=False, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, host.strip("[]"), int(port))
    await site.start()
    return runner, runner.addresses[0][1]
