"""The watch cache's scope index: a watch bounded to a namespace or a name gets
exactly what a full scan would give it, once, for namespaced and global kinds."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from krake_api import registry
from krake_api.resources import verbs
from krake_api.storage.base import Store
from krake_api.watch import streams
from krake_api.watch.cache import BOOKMARK
from krake_testing.examples import example

DEADLINE = 30.0


async def names_seen(
    caches: streams.WatchCaches, kind: registry.Kind, selection: Any, count: int
) -> list[tuple[int, str]]:
    seen: list[tuple[int, str]] = []
    events = streams.events(caches, kind, selection, None)
    async with asyncio.timeout(DEADLINE):
        async for event in events:
            if event.type != BOOKMARK:
                seen.append((event.type, event.object.metadata.name))  # type: ignore[attr-defined]
            if len(seen) == count:
                break
    (mine,) = [s for s in caches.cache(kind).subscriptions if s.matches is selection]
    assert mine.queue.empty(), "an event was offered twice"  # offers are synchronous
    await events.aclose()
    return seen


async def test_scoped_watches_see_their_objects_once(store: Store) -> None:
    """Names, namespaces and a label are unique to this test: on the session's etcd,
    other tests' objects are there too (and must not be selected)."""
    apps, metrics = registry.KINDS["Application"], registry.KINDS["GlobalMetric"]
    tag = uuid.uuid4().hex[:8]
    one, two, ns_a, ns_b, mine = f"one-{tag}", f"two-{tag}", f"a-{tag}", f"b-{tag}", f"t={tag}"
    caches = streams.WatchCaches(store, bookmark_interval=60)
    try:
        for kind, namespace in ((apps, ns_a), (apps, ns_b), (metrics, "")):
            for name in (one, two):
                obj: Any = example(kind, name, namespace)
                obj.metadata.labels["t"] = tag
                await verbs.create(store, kind, namespace, obj)
        cases = [
            (apps, streams.selection(apps, ns_a, "", ""), [one, two]),
            (apps, streams.selection(apps, "", "", f"metadata.namespace={ns_b}"), [one, two]),
            (apps, streams.selection(apps, ns_a, "", f"metadata.name={two}"), [two]),
            (apps, streams.selection(apps, "", "", f"metadata.name={one}"), [one, one]),
            (apps, streams.selection(apps, "", mine, f"metadata.name!={one}"), [two, two]),
            (metrics, streams.selection(metrics, "", mine, ""), [one, two]),
            (metrics, streams.selection(metrics, "", "", f"metadata.name={two}"), [two]),
        ]
        assert [s.scope for _, s, _ in cases] == [
            (ns_a, ""),
            (ns_b, ""),
            (ns_a, two),
            ("", one),
            ("", ""),
            ("", ""),
            ("", two),
        ]
        watching = [
            asyncio.create_task(names_seen(caches, kind, selection, 2 * len(wanted)))
            for kind, selection, wanted in cases
        ]
        async with asyncio.timeout(DEADLINE):  # every watch registered
            while caches.watchers() < len(cases):
                await asyncio.sleep(0.01)
        for kind, namespace in ((apps, ns_a), (apps, ns_b), (metrics, "")):
            for name in (one, two):
                await verbs.delete(store, kind, namespace, name)
        seen = await asyncio.gather(*watching)
        for (_, _, wanted), got in zip(cases, seen, strict=True):
            added, deleted = got[: len(wanted)], got[len(wanted) :]
            assert sorted(n for _, n in added) == wanted
            assert sorted(n for _, n in deleted) == wanted
    finally:
        await caches.close()


async def test_a_resource_version_the_cache_has_not_reached_holds_back_events_up_to_it(
    store: Store,
) -> None:
    """A client can hold a resource_version the cache has still to apply (it came
    from a write's response). Watching from it must not replay that write."""
    apps, namespace = registry.KINDS["Application"], f"ahead-{uuid.uuid4().hex[:8]}"
    caches = streams.WatchCaches(store, bookmark_interval=60)
    try:
        await caches.cache(apps).ready.wait()
        ahead = await store.revision() + 1  # the revision the next write gets
        events = streams.events(caches, apps, streams.selection(apps, namespace, "", ""), ahead)
        first = asyncio.create_task(anext(events))
        written = await verbs.create(store, apps, namespace, example(apps, "x", namespace))
        assert int(written.metadata.resource_version) == ahead
        await verbs.create(store, apps, namespace, example(apps, "y", namespace))
        async with asyncio.timeout(DEADLINE):
            event = await first
        assert event.object.metadata.name == "y"  # type: ignore[attr-defined]
        await events.aclose()
    finally:
        await caches.close()
