"""Which informer events queue which keys.

- An Application is queued when it appears, its spec (generation) or binding
  changes, or its deletion starts; its own status writes do not queue it.
- A Cluster is queued on every change (its metric health is re-checked), and the
  Applications of its namespace are queued when its labels, state, metrics,
  custom resources or deletion change, or when it appears or goes.
- A Cloud or GlobalCloud change queues it (its metric health) and the clusters
  that may be placed on it.
- A Metric or metrics provider change queues the Applications, Clusters and Clouds
  of its namespace (a global one: of every namespace, and every GlobalCloud).
Periodic re-evaluation comes from the reconciler's `requeue_after`.
While the informers first list, nothing is queued for other objects: every object
is queued by its own first event, and the workers start once all have listed (so
that starting over C clusters and A apps queues A keys, not C x A).
"""

from __future__ import annotations

from typing import Any

from krake_controllers.runtime.informer import ADDED, DELETED, Event, Handler
from krake_controllers.runtime.queue import WorkQueue
from krake_controllers.scheduler.caches import Caches, Key
from krake_controllers.scheduler.snapshots import Snapshots


def placement_inputs(cluster: Any) -> tuple[object, ...]:
    spec = cluster.spec
    return (
        dict(cluster.metadata.labels),
        cluster.status.state,
        [(m.name, m.weight, m.namespaced) for m in spec.metrics],
        sorted(spec.custom_resources),
        cluster.metadata.HasField("deleted"),
    )


def application_changed(event: Event) -> bool:
    if event.type != "UPDATED" or event.old is None:
        return True
    old, new = event.old, event.object
    return bool(
        old.metadata.generation != new.metadata.generation
        or old.status.scheduled_to != new.status.scheduled_to
        or old.metadata.HasField("deleted") != new.metadata.HasField("deleted")
    )


class Triggers:
    def __init__(self, caches: Caches, queue: WorkQueue[Key], snapshots: Snapshots) -> None:
        self.caches, self.queue, self.snapshots = caches, queue, snapshots
        self.synced = False  # every informer has listed once

    def install(self) -> None:
        table: dict[str, Handler] = {
            "Application": self.on_application,
            "Cluster": self.on_cluster,
            "Cloud": self.on_cloud,
            "GlobalCloud": self.on_cloud,
            "Metric": self.on_metrics,
            "GlobalMetric": self.on_metrics,
            "MetricsProvider": self.on_metrics,
            "GlobalMetricsProvider": self.on_metrics,
        }
        for kind, handler in table.items():
            self.caches.informers[kind].add_handler(handler)

    def queue_all(self, kind: str, namespace: str) -> None:
        """Every cached object of `kind` in `namespace` ("": in every namespace)."""
        if not self.synced:
            self.synced = all(i.synced.is_set() for i in self.caches.informers.values())
            if not self.synced:
                return
        found = self.caches.in_namespace(kind, namespace) if namespace else self.caches.every(kind)
        for obj in found:
            self.queue.add(Key.of(obj))

    def on_application(self, event: Event) -> None:
        if event.type != DELETED and application_changed(event):
            self.queue.add(Key.of(event.object))

    def on_cluster(self, event: Event) -> None:
        cluster = event.object
        self.snapshots.invalidate(cluster.metadata.namespace)
        if event.type != DELETED:
            self.queue.add(Key.of(cluster))
        moved = event.type in (ADDED, DELETED) or event.old is None
        if moved or placement_inputs(event.old) != placement_inputs(cluster):
            self.queue_all("Application", cluster.metadata.namespace)

    def on_cloud(self, event: Event) -> None:
        if event.type != DELETED:
            self.queue.add(Key.of(event.object))
        self.queue_all("Cluster", event.object.metadata.namespace)

    def on_metrics(self, event: Event) -> None:
        namespace = event.object.metadata.namespace
        for kind in ("Application", "Cluster", "Cloud"):
            self.queue_all(kind, namespace)
        if not namespace:
            self.queue_all("GlobalCloud", namespace)
