"""The scheduler controller (`krake-controller scheduler`).

It binds each Application to the best Cluster of its namespace
(UpdateApplicationBinding) and each Cluster to be created (no kubeconfig, a TOSCA
template) to the best Cloud, namespaced before global (UpdateClusterBinding), and
explains every decision in `status.placement`: every candidate's filter verdicts
(not_deleted, online, label_constraints, custom_resources, metric_constraints)
and score terms, best first (the best `recorded_candidates`, default 20; the
PreviewApplicationPlacement RPC, `GET /kubernetes/namespaces/{ns}/applications/
{name}/placement:preview`, returns all of them without binding).

Score = sum(weight x normalized value) / sum(weight) over a cluster's usable
metrics; clusters with metrics rank above those without; the cluster an app runs
on gets a stickiness bonus (default 0.1), so it moves only to a cluster better by
more than that, never when `constraints.migration` is false; an OFFLINE or
deleted cluster loses its apps to the best other one. Ties break by a hash of
(app, cluster): reproducible, and spread over equal clusters. Apps are
re-evaluated every `reschedule_after` seconds (default 60) and on any change of
a cluster's labels, state, metrics or custom resources, of a metric or provider.
Metric values come from Prometheus, ksqlDB, InfluxDB 2 or static providers,
cached per (provider, metric) for `metrics_ttl` seconds (default 10); a metric
that cannot be read is recorded with its reason, sets its cluster (or cloud) to
FAILING_METRICS with `status.metrics_reasons`, and does not stop scheduling on
the others. Module map: views -> filters, scoring -> placement (pure); readings,
normalization, gathering, providers/ (metrics); caches, snapshots, triggers,
reconciler, health, inheritance (the controller); settings.
"""

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


__all__ = ["NAME", "Settings", "build"]
