"""The shutdown hook, as seen from the controller: ask the workload to stop, then wait.

Before an application's objects are removed from a cluster (deletion, or the old
cluster of a migration), and only if `spec.hooks.shutdown` is on, the controller
POSTs `http://<service address>/shutdown` to the workload: the address is
`status.services[name]` of the Service the application's annotation
`krake.io/shutdown-service` names (else the first Service by name). The workload
shuts down and calls the API's ShutdownApplication with its token, which makes
the state READY_FOR_ACTION; then removal goes on.

A call that fails, or no READY_FOR_ACTION within `spec.shutdown_grace_time`
seconds (default 60), is retried `spec.shutdown_retry_count` times; after that
`spec.shutdown_failure_strategy` decides: DELETE goes on without the workload's
consent, GIVE_UP (the default) raises `GaveUp` and the controller leaves the
application DEGRADED with the reason. Attempts are counted in memory: a restarted
controller asks again.
"""

from __future__ import annotations

import asyncio
from typing import Any, Final

import aiohttp
import structlog

from krake.kubernetes.v1 import kubernetes_pb2

log = structlog.get_logger(__name__)
Application = kubernetes_pb2.Application
DEFAULT_GRACE: Final = 60.0
SERVICE_ANNOTATION: Final = "krake.io/shutdown-service"
CALL_TIMEOUT: Final = 5.0


class GaveUp(Exception):
    """The workload did not shut down, and the strategy is to give up."""


def endpoint(app: Any) -> str | None:
    services = dict(app.status.services)
    name = app.metadata.annotations.get(SERVICE_ANNOTATION) or min(services, default=None)
    address = services.get(name) if name else None
    return f"http://{address}/shutdown" if address else None


class Shutdowns:
    def __init__(self) -> None:
        self._attempts: dict[str, tuple[int, float]] = {}  # app uid -> (calls, last call)
        self._done: set[str] = set()
        self._session: aiohttp.ClientSession | None = None

    def done(self, app: Any) -> bool:
        """Whether removal may go on (the hook is off, or the workload has shut down)."""
        if not app.spec.hooks.shutdown:
            return True
        if app.status.state == Application.Status.State.READY_FOR_ACTION:
            self._done.add(app.metadata.uid)
        return app.metadata.uid in self._done

    def forget(self, app: Any) -> None:
        self._attempts.pop(app.metadata.uid, None)
        self._done.discard(app.metadata.uid)

    async def request(self, app: Any) -> float:
        """Ask (again) when due; the seconds to wait before looking again.
        Raises GaveUp; returns 0 when the strategy is to go on regardless."""
        uid = app.metadata.uid
        calls, last = self._attempts.get(uid, (0, 0.0))
        grace = float(app.spec.shutdown_grace_time) or DEFAULT_GRACE
        now = asyncio.get_running_loop().time()
        if calls and now - last < grace:
            return grace - (now - last)
        if calls > app.spec.shutdown_retry_count:
            if app.spec.shutdown_failure_strategy == Application.DELETE:
                log.warning("shutdown.forced", app=app.metadata.name, calls=calls)
                self._done.add(uid)
                return 0.0
            raise GaveUp(f"workload did not shut down after {calls} request(s)")
        self._attempts[uid] = (calls + 1, now)
        await self._call(app)
        return grace

    async def _call(self, app: Any) -> None:
        url = endpoint(app)
        if url is None:
            log.warning("shutdown.no_endpoint", app=app.metadata.name)
            return
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=CALL_TIMEOUT))
        try:
            async with self._session.post(url) as response:
                log.info("shutdown.requested", app=app.metadata.name, status=response.status)
        except (aiohttp.ClientError, TimeoutError) as err:
            log.warning("shutdown.call_failed", app=app.metadata.name, error=str(err))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
