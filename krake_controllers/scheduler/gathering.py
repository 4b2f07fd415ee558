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


async def reading(key: MetricKey, lookup: Lookup, fetcher: Fetcher) -> Reading:
    metric = lookup.metric(key)
    if metric is None or metric.metadata.HasField("deleted"):
        return failed(UNKNOWN_METRIC, f"{key} does not exist")
    source = metric.spec.provider
    provider = lookup.provider(key.namespace, source.name)
    if provider is None:
        kind = "MetricsProvider" if key.namespace else "GlobalMetricsProvider"
        return failed(UNKNOWN_METRICS_PROVIDER, f"{kind} {source.name!r} of {key} does not exist")
    try:
        value = await fetcher.value(provider, source.metric)
    except MetricFailure as err:
        return failed(err.code, f"{key}: {err.message}")
    result = normalize(metric.spec, value)
    return result if result.usable else failed(result.code, f"{key}: {result.message}")


async def read(
    keys: Iterable[MetricKey], lookup: Lookup, fetcher: Fetcher
) -> dict[MetricKey, Reading]:
    """A Reading for every distinct key, fetched concurrently."""
    unique = list(dict.fromkeys(keys))
    found = await asyncio.gather(*(reading(key, lookup, fetcher) for key in unique))
    return dict(zip(unique, found, strict=True))
