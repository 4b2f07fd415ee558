"""Prometheus metrics of one API server, in a registry of its own.

- `krake_api_requests_total{service,method,code}`: finished RPCs (an observer of
  the interceptor chain, so every status code is counted, cut-off watches too).
- `krake_api_request_duration_seconds{service,method,code}`: their latency (for a
  Watch, the stream's lifetime).
- `krake_api_watchers{kind}`: open watch streams, read from the caches on scrape.
- `krake_api_watch_cache_revision{kind}`, `krake_api_watch_cache_events{kind}`:
  how far each watch cache has read and how many events it keeps for resumes.
- `krake_api_watch_cache_lag_seconds{kind}`: for each event, the time between the
  write's `metadata.modified` stamp and the cache applying it (the store round
  trip plus the watch delivery; across replicas it includes clock skew).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from krake_api.registry import Kind
from krake_api.services.chain import Call
from krake_api.watch.streams import WatchCaches

CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS: Final = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60,
)  # fmt: skip


class WatchCollector(Collector):
    """Gauges read from the watch caches when Prometheus scrapes."""

    def __init__(self, caches: WatchCaches) -> None:
        self.caches = caches

    def collect(self) -> Iterator[Metric]:
        watchers = GaugeMetricFamily("krake_api_watchers", "Open watch streams", labels=["kind"])
        revision = GaugeMetricFamily(
            "krake_api_watch_cache_revision",
            "Store revision a watch cache has read up to",
            labels=["kind"],
        )
        events = GaugeMetricFamily(
            "krake_api_watch_cache_events",
            "Events a watch cache keeps for resumes",
            labels=["kind"],
        )
        for name, cache in sorted(self.caches.caches.items()):
            watchers.add_metric([name], len(cache.subscriptions))
            revision.add_metric([name], cache.revision)
            events.add_metric([name], len(cache.ring))
        yield from (watchers, revision, events)


class Metrics:
    """The server's metrics; calling it with a finished `Call` records the call."""

    def __init__(self, caches: WatchCaches) -> None:
        self.registry = CollectorRegistry()
        labels = ["service", "method", "code"]
        self.requests = Counter(
            "krake_api_requests", "Finished RPCs", labels, registry=self.registry
        )
        self.latency = Histogram(
            "krake_api_request_duration_seconds",
            "RPC latency (a Watch: the stream's lifetime)",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.cache_lag = Histogram(
            "krake_api_watch_cache_lag_seconds",
            "From a write's metadata.modified to the watch cache applying it",
            ["kind"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(WatchCollector(caches))
        caches.on_lag = self._cache_lag
        self._children: dict[tuple[str, str], tuple[Counter, Histogram]] = {}

    def __call__(self, call: Call) -> None:
        key = (call.method, call.code.name)
        children = self._children.get(key)
        if children is None:
            values = (call.service, call.rpc, call.code.name)
            children = self.requests.labels(*values), self.latency.labels(*values)
            self._children[key] = children
        children[0].inc()
        children[1].observe(call.elapsed())

    def _cache_lag(self, kind: Kind, seconds: float) -> None:
        self.cache_lag.labels(kind.name).observe(max(seconds, 0.0))

    def render(self) -> bytes:
        return generate_latest(self.registry)
