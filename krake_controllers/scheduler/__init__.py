"""The scheduler controller: binds Applications to Clusters (and Clusters to be
created to Clouds) by constraints and metrics, explains every decision in
`status.placement`, and re-evaluates as the world changes (reconciler.py)."""

from __future__ import annotations

from krake_controllers.runtime.client import Client
from krake_controllers.runtime.controller import Controller
from krake_controllers.runtime.leader import LeaderElector
from krake_controllers.runtime.metrics import ControllerMetrics
from krake_controllers.runtime.queue import WorkQueue
from krake_controllers.scheduler.caches import Caches, Key
from krake_controllers.scheduler.reconciler import Scheduler
from krake_controllers.scheduler.settings import Settings
from krake_controllers.scheduler.snapshots import Snapshots
from krake_controllers.scheduler.triggers import Triggers

NAME = "scheduler"


class SchedulerController(Controller[Key]):
    """A Controller that also closes the scheduler's HTTP session when it ends."""

    scheduler: Scheduler

    async def run(self) -> None:
        try:
            await super().run()
        finally:
            await self.scheduler.close()


def build(
    client: Client,
    *,
    workers: int = 16,
    elector: LeaderElector | None = None,
    metrics: ControllerMetrics | None = None,
    settings: Settings | None = None,
    bookmark_interval: float = 10.0,
) -> SchedulerController:
    caches = Caches.build(client, bookmark_interval=bookmark_interval)
    queue: WorkQueue[Key] = WorkQueue()
    snapshots = Snapshots(caches)
    Triggers(caches, queue, snapshots).install()
    scheduler = Scheduler(client, caches, snapshots, settings or Settings())
    controller = SchedulerController(
        NAME,
        scheduler,
        queue,
        informers=list(caches.informers.values()),
        workers=workers,
        elector=elector,
        metrics=metrics,
    )
    controller.scheduler = scheduler
    return controller
