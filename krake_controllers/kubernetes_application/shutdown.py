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
consent, GIVE_UP (the default) leaves the application DEGRADED with the reason
(and its objects in place). Attempts are counted in memory: a restarted
controller asks again.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Final

import aiohttp
import structlog

from krake.kubernetes.v1 import kubernetes_pb2

log = structlog.get_logger(__name__)
Application = kubernetes_pb2.Application
DEFAULT_GRACE: Final = 60.0
SERVICE_ANNOTATION: Final = "krake.io/shutdown-service"
CALL_TIMEOUT: Final = 5.0


@dataclass(frozen=True, slots=True)
class Step:
    action: str  # "call" (the workload, then wait), "wait", "proceed" or "give_up"
    wait: float = 0.0
    why: str = ""


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

    def forget(self, uid: str) -> None:
        self._attempts.pop(uid, None)
        self._done.discard(uid)

    def next_step(self, app: Any) -> Step:
        """What to do now (see the module docstring); `call` records the attempt."""
        calls, last = self._attempts.get(app.metadata.uid, (0, 0.0))
        grace = float(app.spec.shutdown_grace_time) or DEFAULT_GRACE
        since = asyncio.get_running_loop().time() - last
        if calls and since < grace:
            return Step("wait", grace - since)
        if calls > app.spec.shutdown_retry_count:
            if app.spec.shutdown_failure_strategy == Application.DELETE:
                log.warning("shutdown.forced", app=app.metadata.name, calls=calls)
                self._done.add(app.metadata.uid)
                return Step("proceed")
            return Step("give_up", why=f"workload did not shut down after {calls} request(s)")
        return Step("call", grace)

    async def call(self, app: Any) -> None:
        calls, _ = self._attempts.get(app.metadata.uid, (0, 0.0))
        self._attempts[app.metadata.uid] = (calls + 1, asyncio.get_running_loop().time())
        await self._call(app)

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
