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
from typing import Any

from google.protobuf.message import Message

from krake_api import errors
from krake_api.registry import Kind
from krake_api.resources import selectors
from krake_api.storage.base import Store
from krake_api.watch.cache import BOOKMARK, Event, Filter, LagObserver, WatchCache


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


def selection(kind: Kind, namespace: str, labels: str, fields: str) -> Filter:
    """The filter of one watch request: namespace, label and field selectors."""
    label_selector = selectors.LabelSelector.parse(labels)
    field_selector = selectors.FieldSelector.parse(fields, kind.message.DESCRIPTOR)

    def matches(obj: Any) -> bool:
        return (
            (not namespace or obj.metadata.namespace == namespace)
            and label_selector.matches(obj.metadata.labels)
            and field_selector.matches(obj)
        )

    return matches


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
            wait = idle_since + caches.bookmark_interval - loop.time()
            try:
                event = await asyncio.wait_for(subscription.queue.get(), max(wait, 0))
            except TimeoutError:
                if not subscription.exhausted:
                    yield bookmark(kind, cache.revision)
                idle_since = loop.time()
                continue
            yield event
            idle_since = loop.time()
    finally:
        cache.unsubscribe(subscription)


def response(response_class: type[Message], event: Event) -> Message:
    return response_class(type=event.type, object=event.object)
