"""Client watch streams over the per-kind caches: filters, bookmarks, cut-off.

`WatchCaches` starts one `WatchCache` per kind on first use and closes them all.
`events()` is one client's stream: its backlog and live events, a BOOKMARK with
the cache's revision after `bookmark_interval` seconds without an event, and
`ResourceExhausted` as soon as the client fell so far behind that its queue
overflowed (it may resume from the last resource_version it received).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message

from krake_api import errors
from krake_api.registry import Kind
from krake_api.resources import selectors
from krake_api.storage.base import Store
from krake_api.watch.cache import BOOKMARK, Event, Filter, LagObserver, Scope, WatchCache


class WatchCaches:
    """One cache per kind, started on first use."""

    def __init__(
        self,
        store: Store,
        *,
        bookmark_interval: float = 10.0,
        ring_size: int = 10_000,
        queue_size: int = 1_000,
    ) -> None:
        self.store = store
        self.bookmark_interval = bookmark_interval
        self.ring_size = ring_size
        self.queue_size = queue_size
        self.caches: dict[str, WatchCache] = {}
        self.on_lag: LagObserver | None = None

    def cache(self, kind: Kind) -> WatchCache:
        if kind.name not in self.caches:
            cache = WatchCache(
                self.store,
                kind,
                ring_size=self.ring_size,
                queue_size=self.queue_size,
                progress_interval=self.bookmark_interval / 2,
                on_lag=self.on_lag,
            )
            cache.start()
            self.caches[kind.name] = cache
        return self.caches[kind.name]

    def watchers(self) -> int:
        return sum(len(c.subscriptions) for c in self.caches.values())

    async def close(self) -> None:
        await asyncio.gather(*(c.close() for c in self.caches.values()))
        self.caches.clear()


@dataclass(frozen=True, slots=True)
class Selection:
    """The filter of one watch request: namespace, label and field selectors.
    `scope` (namespace, name; "" = any) bounds what it can select, for the cache's
    index: the request's namespace, and a metadata.name/namespace the field
    selector requires equal."""

    namespace: str
    labels: selectors.LabelSelector
    fields: selectors.FieldSelector
    scope: Scope

    def __call__(self, obj: Any) -> bool:
        return (
            (not self.namespace or obj.metadata.namespace == self.namespace)
            and self.labels.matches(obj.metadata.labels)
            and self.fields.matches(obj)
        )


def selection(kind: Kind, namespace: str, labels: str, fields: str) -> Selection:
    """The filter of one watch request (see `Selection`)."""
    field_selector = selectors.FieldSelector.parse(fields, kind.message.DESCRIPTOR)
    required = {r.field: r.value for r in field_selector.requirements if r.positive and r.value}
    scope = (
        namespace or str(required.get("metadata.namespace", "")),
        str(required.get("metadata.name", "")),
    )
    return Selection(namespace, selectors.LabelSelector.parse(labels), field_selector, scope)


def bookmark(kind: Kind, revision: int) -> Event:
    marker: Any = kind.message()
    marker.metadata.resource_version = str(revision)
    return Event(BOOKMARK, marker, revision)


async def events(
    caches: WatchCaches, kind: Kind, matches: Filter, resource_version: int | None
) -> AsyncGenerator[Event, None]:
    cache = caches.cache(kind)
    await cache.ready.wait()
    subscription = cache.subscribe(matches, resource_version)
    loop = asyncio.get_running_loop()
    try:
        idle_since = loop.time()
        while True:
            if subscription.exhausted:
                raise errors.ResourceExhausted(
                    f"the {kind.plural} watch fell {caches.queue_size} events behind and was cut "
                    "off; resume from the last resource_version received"
                )
            queue = subscription.queue
            if queue.empty():
                try:
                    async with asyncio.timeout_at(idle_since + caches.bookmark_interval):
                        event = await queue.get()
                except TimeoutError:  # a bookmark promises every event up to it was sent
                    if queue.empty() and not subscription.exhausted:
                        yield bookmark(kind, cache.revision)
                    idle_since = loop.time()
                    continue
            else:
                event = queue.get_nowait()
            yield event
            idle_since = loop.time()
    finally:
        cache.unsubscribe(subscription)


def response(response_class: type[Message], event: Event) -> Message:
    """The response carrying `event`, built once however many streams send it."""
    wrapped = event.wrapped
    if wrapped is None or type(wrapped) is not response_class:
        wrapped = event.wrapped = response_class(type=event.type, object=event.object)
    return wrapped
