"""The garbage collector controller (see collector.py for its rules)."""

from __future__ import annotations

from krake_api import registry
from krake_controllers.garbage_collector.collector import Collector, enqueuer
from krake_controllers.garbage_collector.graph import OWNER_INDEX, Graph, ObjectKey, owner_index
from krake_controllers.runtime.client import Client
from krake_controllers.runtime.controller import Controller
from krake_controllers.runtime.informer import Informer
from krake_controllers.runtime.leader import LeaderElector
from krake_controllers.runtime.metrics import ControllerMetrics
from krake_controllers.runtime.queue import WorkQueue

NAME = "garbage-collector"


def build(
    client: Client,
    *,
    workers: int = 16,
    elector: LeaderElector | None = None,
    metrics: ControllerMetrics | None = None,
    bookmark_interval: float = 10.0,
) -> Controller[ObjectKey]:
    """Informers on every kind, indexed by owner, feeding one collector."""
    informers = {
        kind.name: Informer(
            client.kind(kind),
            indexers={OWNER_INDEX: owner_index},
            bookmark_interval=bookmark_interval,
        )
        for kind in registry.KINDS.values()
    }
    graph = Graph(informers)
    queue: WorkQueue[ObjectKey] = WorkQueue()
    for informer in informers.values():
        informer.add_handler(enqueuer(graph, queue))
    return Controller(
        NAME,
        Collector(client, graph),
        queue,
        informers=list(informers.values()),
        workers=workers,
        elector=elector,
        metrics=metrics,
    )
