"""The Kubernetes application controller: Applications bound to Clusters become real
objects on those clusters, observed by watches and kept converged (reconciler.py).

Triggers: every Application event; a Cluster's events (its kubeconfig may have
changed) for the applications scheduled to or running on it (and to connect to a
new cluster ahead of need, or to drop a deleted one's connection); every change of an
object carrying an application's label on a member cluster (members.py).

The API gateway address that workloads call the complete/shutdown hooks on is the
`--hook-endpoint` setting (env `KRAKE_HOOK_ENDPOINT`, default `http://127.0.0.1:8080`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from krake_api import registry
from krake_controllers.kubernetes_application.members import MemberWatches
from krake_controllers.kubernetes_application.reconciler import Reconciler, Settings
from krake_controllers.runtime.client import Client
from krake_controllers.runtime.controller import Controller
from krake_controllers.runtime.informer import DELETED, Event, Informer, key_of
from krake_controllers.runtime.leader import LeaderElector
from krake_controllers.runtime.metrics import ControllerMetrics
from krake_controllers.runtime.queue import WorkQueue

NAME = "kubernetes-application"
UID_INDEX = "uid"
CLUSTER_INDEX = "cluster"


def by_uid(app: Any) -> Iterable[str]:
    return (app.metadata.uid,)


def by_cluster(app: Any) -> Iterable[str]:
    refs = (app.status.scheduled_to, app.status.running_on)
    return {f"{r.namespace or app.metadata.namespace}/{r.name}" for r in refs if r.name}


class ApplicationController(Controller[str]):
    """A Controller that also closes its member-cluster connections when it ends."""

    reconciler: Reconciler

    async def run(self) -> None:
        try:
            await super().run()
        finally:
            await self.reconciler.close()


def build(
    client: Client,
    *,
    workers: int = 8,
    elector: LeaderElector | None = None,
    metrics: ControllerMetrics | None = None,
    settings: Settings | None = None,
    bookmark_interval: float = 10.0,
) -> ApplicationController:
    settings = settings or Settings()
    apps = Informer(
        client.kind(registry.KINDS["Application"]),
        indexers={UID_INDEX: by_uid, CLUSTER_INDEX: by_cluster},
        bookmark_interval=bookmark_interval,
    )
    clusters = Informer(client.kind(registry.KINDS["Cluster"]), bookmark_interval=bookmark_interval)
    queue: WorkQueue[str] = WorkQueue()
    background: set[asyncio.Task[None]] = set()  # cluster warm-ups and drops

    def on_member_change(uid: str) -> None:
        for app in apps.index(UID_INDEX, uid):
            queue.add(key_of(app))

    def on_cluster(event: Event) -> None:
        for app in apps.index(CLUSTER_INDEX, event.key):
            queue.add(key_of(app))
        work = reconciler.drop_cluster if event.type == DELETED else reconciler.warm
        task = asyncio.get_running_loop().create_task(work(event.key))
        background.add(task)
        task.add_done_callback(background.discard)

    reconciler = Reconciler(client, apps, clusters, MemberWatches(on_member_change), settings)

    def on_app(event: Event) -> None:
        if event.type == DELETED:
            reconciler.forget(event.object.metadata.uid)
        else:
            queue.add(event.key)

    apps.add_handler(on_app)
    clusters.add_handler(on_cluster)
    controller = ApplicationController(
        NAME,
        reconciler,
        queue,
        informers=[apps, clusters],
        workers=workers,
        elector=elector,
        metrics=metrics,
    )
    controller.reconciler = reconciler
    return controller


__all__ = ["NAME", "Settings", "build"]
