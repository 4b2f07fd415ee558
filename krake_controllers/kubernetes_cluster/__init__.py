"""The Kubernetes cluster controller: connects to every Cluster's kubeconfig, watches
its nodes and CRDs, and keeps `status.state`, `status.nodes` and
`status.custom_resources` current (reconciler.py, monitor.py)."""

from __future__ import annotations

from krake_api import registry
from krake_controllers.kubernetes_cluster.metrics import MonitorStates
from krake_controllers.kubernetes_cluster.monitor import Timing
from krake_controllers.kubernetes_cluster.reconciler import ClusterReconciler, Monitors
from krake_controllers.runtime.client import Client
from krake_controllers.runtime.controller import Controller
from krake_controllers.runtime.informer import Informer
from krake_controllers.runtime.leader import LeaderElector
from krake_controllers.runtime.metrics import ControllerMetrics
from krake_controllers.runtime.queue import WorkQueue

NAME = "kubernetes-cluster"


class ClusterController(Controller[str]):
    """A Controller whose monitors run only while its workers do: they stop (watches
    ended, connections closed) when the controller ends or loses leadership."""

    monitors: Monitors

    async def run(self) -> None:
        try:
            await super().run()
        finally:
            await self.monitors.close()

    async def _work(self) -> None:
        # Monitors are gone after a lost leadership: every Cluster needs one again.
        for informer in self.informers:
            for key in list(informer.cache):
                self.queue.add(key)
        try:
            await super()._work()
        finally:
            await self.monitors.close()


def build(
    client: Client,
    *,
    workers: int = 4,
    elector: LeaderElector | None = None,
    metrics: ControllerMetrics | None = None,
    settings: Timing | None = None,
    bookmark_interval: float = 10.0,
) -> ClusterController:
    informer = Informer(client.kind(registry.KINDS["Cluster"]), bookmark_interval=bookmark_interval)
    queue: WorkQueue[str] = WorkQueue()
    informer.add_handler(lambda event: queue.add(event.key))
    monitors = Monitors(queue.add, settings or Timing())
    metrics = metrics or ControllerMetrics()
    metrics.registry.register(MonitorStates(monitors))
    controller = ClusterController(
        NAME,
        ClusterReconciler(client, informer, monitors),
        queue,
        informers=[informer],
        workers=workers,
        elector=elector,
        metrics=metrics,
    )
    controller.monitors = monitors
    return controller


__all__ = ["NAME", "ClusterController", "Timing", "build"]
