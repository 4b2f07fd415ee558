"""Prometheus metrics of the cluster controller, read on scrape from its monitors.

- `krake_kubernetes_cluster_monitors{state}`: monitored clusters by the state their
  observation calls for (CONNECTING, ONLINE, OFFLINE, UNHEALTHY, NOTREADY).
"""

from __future__ import annotations

import collections
from collections.abc import Iterable, Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from krake_controllers.kubernetes_cluster import status
from krake_controllers.kubernetes_cluster.monitor import Monitor


class MonitorStates(Collector):
    def __init__(self, monitors: Iterable[Monitor]) -> None:
        self.monitors = monitors

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "krake_kubernetes_cluster_monitors",
            "Monitored member clusters by observed state",
            labels=["state"],
        )
        counts = collections.Counter(
            status.State.Name(status.verdict(m.observation)[0]) for m in self.monitors
        )
        for state in ("CONNECTING", "ONLINE", "OFFLINE", "UNHEALTHY", "NOTREADY"):
            family.add_metric([state], counts.get(state, 0))
        yield family
