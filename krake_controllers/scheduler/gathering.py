"""Reading the metrics a placement needs: MetricKey -> Metric -> provider -> value ->
normalized `Reading`, every failure turned into a Reading with its reason.

A namespaced `Metric` names a `MetricsProvider` of its namespace; a `GlobalMetric`
a `GlobalMetricsProvider`. Objects come from a `Lookup` (the controller's
informer caches, or the API's store for a preview); values from the `Fetcher`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from krake_controllers.scheduler.normalization import normalize
from krake_controllers.scheduler.providers.base import MetricFailure
from krake_controllers.scheduler.providers.cache import Fetcher
from krake_controllers.scheduler.readings import (
    UNKNOWN_METRIC,
    UNKNOWN_METRICS_PROVIDER,
    MetricKey,
    Reading,
    failed,
)


class Lookup(Protocol):
    def metric(self, key: MetricKey) -> Any | None:
        """The Metric (namespace set) or GlobalMetric (namespace "") named by `key`."""

    def provider(self, namespace: str, name: str) -> Any | None:
        """The MetricsProvider of `namespace`, or the GlobalMetricsProvider when ""."""


@dataclass(frozen=True)
class DictLookup:
    """A Lookup over plain mappings (the API's preview reads them from the store)."""

    metrics: Mapping[MetricKey, Any] = field(default_factory=dict)
    providers: Mapping[tuple[str, str], Any] = field(default_factory=dict)

    def metric(self, key: MetricKey) -> Any | None:
        return self.metrics.get(key)

    def provider(self, namespace: str, name: str) -> Any | None:
        return self.providers.get((namespace, name))


Source = tuple[Any, Any]  # (Metric, provider)


def source(key: MetricKey, lookup: Lookup) -> Source | Reading:
    """The metric and its provider, or the failed Reading saying which is missing."""
    metric = lookup.metric(key)
    if metric is None or metric.metadata.HasField("deleted"):
        return failed(UNKNOWN_METRIC, f"{key} does not exist")
    name = metric.spec.provider.name
    provider = lookup.provider(key.namespace, name)
    if provider is None:
        kind = "MetricsProvider" if key.namespace else "GlobalMetricsProvider"
        return failed(UNKNOWN_METRICS_PROVIDER, f"{kind} {name!r} of {key} does not exist")
    return metric, provider


def outcome(key: MetricKey, metric: Any, value: float | MetricFailure) -> Reading:
    if isinstance(value, MetricFailure):
        return failed(value.code, f"{key}: {value.message}")
    result = normalize(metric.spec, value)
    return result if result.usable else failed(result.code, f"{key}: {result.message}")


async def fetched(key: MetricKey, metric: Any, provider: Any, fetcher: Fetcher) -> Reading:
    try:
        value: float | MetricFailure = await fetcher.value(provider, metric.spec.provider.metric)
    except MetricFailure as err:
        value = err
    return outcome(key, metric, value)


async def read(
    keys: Iterable[MetricKey], lookup: Lookup, fetcher: Fetcher
) -> dict[MetricKey, Reading]:
    """A Reading for every distinct key: those the fetcher has cached at once, the
    others fetched concurrently."""
    unique = list(dict.fromkeys(keys))
    known: dict[MetricKey, Reading] = {}
    pending: list[tuple[MetricKey, Any, Any]] = []
    for key in unique:
        found = source(key, lookup)
        if isinstance(found, Reading):
            known[key] = found
            continue
        metric, provider = found
        cached = fetcher.settled(provider, metric.spec.provider.metric)
        if cached is None:
            pending.append((key, metric, provider))
        else:
            known[key] = outcome(key, metric, cached)
    if pending:
        results = await asyncio.gather(*(fetched(*job, fetcher) for job in pending))
        known.update(zip((key for key, _, _ in pending), results, strict=True))
    return {key: known[key] for key in unique}
