"""PreviewApplicationPlacement: the scheduler's decision for an application, computed
now from the stored objects by the scheduler's own placement functions and metrics
providers, without binding or writing anything.

The explanation lists every candidate cluster of the application's namespace (a
stored `status.placement` keeps only the best ones). Metric values are fetched
for this call alone (no cache is shared with the scheduler process).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from google.protobuf.message import Message

from krake_api import errors, registry
from krake_api.identity import Caller
from krake_api.registry import Kind
from krake_api.resources import verbs
from krake_api.storage.base import Store
from krake_controllers.scheduler import filters, gathering, placement, views
from krake_controllers.scheduler.providers.cache import Fetcher
from krake_controllers.scheduler.readings import MetricKey
from krake_controllers.scheduler.settings import Settings

SETTINGS = Settings()


async def every(store: Store, kind_name: str, namespace: str) -> list[Any]:
    kind = registry.KINDS[kind_name]
    items: list[Any] = []
    token = ""
    while True:
        page = await verbs.list_(store, kind, namespace, size=1000, token=token)
        items.extend(page.items)
        token = page.next_page_token
        if not token:
            return items


async def lookup(store: Store, namespace: str) -> gathering.DictLookup:
    metrics = {
        MetricKey(obj.metadata.namespace, obj.metadata.name): obj
        for kind, where in (("Metric", namespace), ("GlobalMetric", ""))
        for obj in await every(store, kind, where)
    }
    providers = {
        (obj.metadata.namespace, obj.metadata.name): obj
        for kind, where in (("MetricsProvider", namespace), ("GlobalMetricsProvider", ""))
        for obj in await every(store, kind, where)
    }
    return gathering.DictLookup(metrics, providers)


async def preview(store: Store, app: Any) -> Message:
    namespace = app.metadata.namespace
    subject = views.application_subject(app)
    targets = [views.cluster_target(c) for c in await every(store, "Cluster", namespace)]
    fetcher = Fetcher(ttl=SETTINGS.metrics_ttl, timeout=SETTINGS.fetch_timeout)
    try:
        keys = (w.key for target in targets for w in target.metrics)
        readings = await gathering.read(keys, await lookup(store, namespace), fetcher)
    finally:
        await fetcher.close()
    ranked = placement.evaluate(
        subject, targets, readings, filters.CLUSTER_FILTERS, stickiness=SETTINGS.stickiness
    )
    decision = placement.decide(subject, ranked)
    chosen = placement.chosen(decision, app.status.scheduled_to)
    return placement.explain(ranked, chosen=chosen, now=datetime.now(UTC))


async def adapter(store: Store, kind: Kind, request: Any, caller: Caller) -> Message:
    problems = [
        errors.FieldViolation(field, "must not be empty")
        for field in ("namespace", "name")
        if not getattr(request, field)
    ]
    if problems:
        raise errors.InvalidArgument(problems)
    app = await verbs.get(store, kind, request.namespace, request.name)
    return await preview(store, app)
