"""Prometheus metrics of the controllers in one process, in a registry of their own.

- `krake_controller_reconciles_total{controller,outcome}`: outcome is success,
  requeue, error (retried with backoff), terminal or cancelled.
- `krake_controller_reconcile_duration_seconds{controller}`.
- `krake_controller_queue_depth{controller}`: keys waiting, read on scrape.
- `krake_controller_leader{controller}`: 1 while this replica leads.
"""

from __future__ import annotations

from collections.abc import Iterator, Sized

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector


class QueueDepth(Collector):
    def __init__(self) -> None:
        self.queues: dict[str, Sized] = {}

    def collect(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily(
            "krake_controller_queue_depth", "Keys waiting in the work queue", labels=["controller"]
        )
        for name, queue in sorted(self.queues.items()):
            depth.add_metric([name], len(queue))
        yield depth


class ControllerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.reconciles = Counter(
            "krake_controller_reconciles",
            "Reconciles by outcome",
            ["controller", "outcome"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "krake_controller_reconcile_duration_seconds",
            "Reconcile latency",
            ["controller"],
            registry=self.registry,
        )
        self.leader = Gauge(
            "krake_controller_leader",
            "1 while this replica holds the controller's lease",
            ["controller"],
            registry=self.registry,
        )
        self.depth = QueueDepth()
        self.registry.register(self.depth)

    def watch_queue(self, controller: str, queue: Sized) -> None:
        self.depth.queues[controller] = queue

    def reconciled(self, controller: str, outcome: str, seconds: float) -> None:
        self.reconciles.labels(controller, outcome).inc()
        self.latency.labels(controller).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
