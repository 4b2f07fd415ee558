"""Moving an application when `status.scheduled_to` changes, without downtime.

    MIGRATING: apply everything to the new cluster (the old one keeps running);
    once it is healthy there: the shutdown hook on the old one (if on), delete the
    objects from the old cluster, `running_on` becomes the new cluster.
    Not healthy within `timeout` seconds: roll back, i.e. delete what was put on
    the new cluster and keep running on the old one (reason set); the application
    stays there until the scheduler picks yet another cluster (a new
    `status.scheduled` time).

The start time of a migration and the failed ones are kept in memory: a restarted
controller gives a migration its full timeout again.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import structlog

from krake.core.v1 import metadata_pb2
from krake.kubernetes.v1 import kubernetes_pb2
from krake_controllers.kubernetes_application import statuses
from krake_controllers.runtime.controller import Result

if TYPE_CHECKING:
    from krake_controllers.kubernetes_application.reconciler import Reconciler

log = structlog.get_logger(__name__)
State = kubernetes_pb2.Application.Status.State


def _key(ref: Any, namespace: str) -> str:
    return f"{ref.namespace or namespace}/{ref.name}"


class Migrations:
    def __init__(self, reconciler: Reconciler, timeout: float) -> None:
        self.reconciler, self.timeout = reconciler, timeout
        self._started: dict[str, tuple[str, float]] = {}  # app uid -> (destination, since)
        self._failed: dict[str, tuple[str, int, str]] = {}  # uid -> (to, scheduled, why)

    def destination(self, app: Any) -> str:
        """Where the application should run: scheduled_to, unless moving there failed."""
        wanted = _key(app.status.scheduled_to, app.metadata.namespace)
        if self.held_back(app) is not None:
            return _key(app.status.running_on, app.metadata.namespace)
        return wanted

    def held_back(self, app: Any) -> str | None:
        """Why the application stays where it runs (a failed migration), or None."""
        failed = self._failed.get(app.metadata.uid)
        wanted = _key(app.status.scheduled_to, app.metadata.namespace)
        current = (wanted, app.status.scheduled.ToNanoseconds())
        if failed is None or failed[:2] != current or not app.status.running_on.name:
            return None
        return failed[2]

    def forget(self, uid: str) -> None:
        self._started.pop(uid, None)
        self._failed.pop(uid, None)

    async def migrate(self, app: Any, destination: str) -> Result:
        rec = self.reconciler
        uid = app.metadata.uid
        new = rec.target(destination)
        if new is None:
            return Result(requeue_after=rec.settings.deletion_recheck)
        now = asyncio.get_running_loop().time()
        started = self._started.get(uid)
        if started is None or started[0] != destination:
            started = self._started[uid] = (destination, now)
            log.info("migration.start", app=app.metadata.name, to=destination)
        changed = app.status.observed_generation != app.metadata.generation
        deployed = await rec.deploy(app, new, force=changed)
        observed = statuses.Observed.of([p.live for p in deployed.objects], deployed.pods)
        if not observed.healthy:
            left = self.timeout - (now - started[1])
            if left <= 0:
                return await self._roll_back(app, destination, deployed)
            if app.status.state != State.MIGRATING:
                status = app.status.__class__()
                status.CopyFrom(app.status)
                status.state = State.MIGRATING
                await rec.write(app, status)
            return Result(requeue_after=left)
        if not rec.shutdowns.done(app):
            return await rec.shut_down(app)
        old = rec.target(_key(app.status.running_on, app.metadata.namespace))
        if old is not None:
            await rec.remove(old, await rec.refs_on(app, old))
        state = statuses.state(State.MIGRATING, False, False, observed)
        if await rec.write(app, rec.status(app, new, deployed, state)) is None:
            return Result()  # changed meanwhile: its next version brings it back here
        self._started.pop(uid, None)
        rec.shutdowns.forget(uid)
        log.info("migration.done", app=app.metadata.name, to=destination)
        return Result()

    async def _roll_back(self, app: Any, destination: str, deployed: Any) -> Result:
        rec = self.reconciler
        new = rec.target(destination)
        if new is not None:
            await rec.remove(new, [placed.ref for placed in deployed.objects])
        self._started.pop(app.metadata.uid, None)
        message = f"migration to {destination} failed: not ready within {self.timeout:g} s"
        scheduled = app.status.scheduled.ToNanoseconds()
        self._failed[app.metadata.uid] = (destination, scheduled, message)
        log.warning("migration.rolled_back", app=app.metadata.name, reason=message)
        status = app.status.__class__()
        status.CopyFrom(app.status)
        status.state = State.RUNNING
        status.reason.code = metadata_pb2.Reason.RECONCILE_FAILED
        status.reason.message = message
        await rec.write(app, status)
        return Result(requeue_after=0.001)
