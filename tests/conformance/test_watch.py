"""Watches: ordered, exactly once from any retained revision, progress while idle."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

import pytest

from krake_api.storage.base import (
    Change,
    ChangeType,
    Compacted,
    Create,
    Progress,
    Put,
    Store,
    WatchEvent,
)

DEADLINE = 20.0


async def collect(
    events: AsyncIterator[WatchEvent], until_revision: int, *, progress: bool = False
) -> list[WatchEvent]:
    """Events up to and including `until_revision`, within the deadline."""
    seen: list[WatchEvent] = []
    async with asyncio.timeout(DEADLINE):
        async for event in events:
            if isinstance(event, Progress) and not progress:
                continue
            seen.append(event)
            revision = event.revision if isinstance(event, Progress) else event.mod_revision
            if revision >= until_revision:
                break
    return seen


def summary(events: list[WatchEvent]) -> list[tuple[str, str, int]]:
    return [(e.type.value, e.key, e.mod_revision) for e in events if isinstance(e, Change)]


async def test_watch_delivers_puts_and_deletes_with_previous_values(store: Store, ns: str) -> None:
    start = await store.revision()
    events = store.watch(ns, after=start)
    try:
        created = await store.create(ns + "a", b"one")
        replaced = await store.replace(ns + "a", b"two", expect=created)
        await store.put(ns[:-1] + "-outside", b"not watched")
        deleted = await store.delete(ns + "a")
        seen = await collect(events, deleted)
    finally:
        await events.aclose()
    assert seen == [
        Change(ChangeType.PUT, ns + "a", b"one", None, created, created),
        Change(ChangeType.PUT, ns + "a", b"two", b"one", replaced, created),
        Change(ChangeType.DELETE, ns + "a", b"", b"two", deleted, created),
    ]


async def test_concurrent_writes_arrive_in_revision_order(store: Store, ns: str) -> None:
    events = store.watch(ns, after=await store.revision())
    try:

        async def writer(w: int) -> list[tuple[str, int]]:
            return [(f"{ns}{w}/{i}", await store.put(f"{ns}{w}/{i}", b"v")) for i in range(40)]

        written = [pair for batch in await asyncio.gather(*map(writer, range(8))) for pair in batch]
        seen = await collect(events, max(rev for _, rev in written))
    finally:
        await events.aclose()
    revisions = [e.mod_revision for e in seen if isinstance(e, Change)]
    assert revisions == sorted(revisions) and len(set(revisions)) == len(revisions)
    assert sorted((e.key, e.mod_revision) for e in seen if isinstance(e, Change)) == sorted(written)


async def test_watches_of_nested_and_other_prefixes_each_get_exactly_their_own(
    store: Store, ns: str
) -> None:
    """Kinds share a store: while `a/x/` and `a/b/` are written at once, a watch of
    `a/` gets both, a watch of `a/b/` only its own, a watch of `c/` nothing until
    `c/` is written."""
    start = await store.revision()
    outer, inner, other = (store.watch(ns + p, after=start) for p in ("a/", "a/b/", "c/"))
    try:

        async def writer(prefix: str) -> list[tuple[str, int]]:
            return [
                (f"{ns}{prefix}{i}", await store.put(f"{ns}{prefix}{i}", b"v")) for i in range(30)
            ]

        xs, bs = await asyncio.gather(writer("a/x/"), writer("a/b/"))
        both = await store.txn([Put(ns + "a/x/t", b"v"), Put(ns + "a/b/t", b"v")])
        end = await store.put(ns + "a/b/end", b"v")
        marker = await store.put(ns + "c/marker", b"v")
        got_outer, got_inner = await collect(outer, end), await collect(inner, end)
        got_other = await collect(other, marker)
    finally:
        for watch in (outer, inner, other):
            await watch.aclose()

    def keys(events: list[WatchEvent]) -> list[tuple[str, int]]:
        return [(e.key, e.mod_revision) for e in events if isinstance(e, Change)]

    last = [(ns + "a/b/t", both), (ns + "a/x/t", both), (ns + "a/b/end", end)]
    assert keys(got_outer) == sorted(xs + bs, key=lambda kv: kv[1]) + last
    assert keys(got_inner) == [*bs, last[0], last[2]]
    assert keys(got_other) == [(ns + "c/marker", marker)]


async def test_a_transaction_arrives_as_its_changes_at_one_revision(store: Store, ns: str) -> None:
    events = store.watch(ns, after=await store.revision())
    try:
        revision = await store.txn([Put(ns + "b", b"1"), Create(ns + "a", b"2")])
        seen = [await anext(events), await anext(events)]
    finally:
        await events.aclose()
    assert summary(seen) == [("PUT", ns + "a", revision), ("PUT", ns + "b", revision)]


async def test_watch_from_an_old_revision_replays_exactly_what_followed(
    store: Store, ns: str
) -> None:
    """5,000 changes in 200 waves of 25 concurrent writes to distinct keys; the
    watch starts after the first 2,000 and must see exactly the other 3,000."""
    rng = random.Random(7)
    live: set[str] = set()
    written: list[tuple[str, str, int]] = []
    start = 0

    async def change(key: str) -> tuple[str, str, int]:
        if key in live and rng.random() < 0.3:
            live.discard(key)
            return ("DELETE", key, await store.delete(key))
        live.add(key)
        return ("PUT", key, await store.put(key, key.encode()))

    for wave in range(200):
        keys = [f"{ns}{k:03}" for k in rng.sample(range(300), 25)]
        written += await asyncio.gather(*map(change, keys))
        if wave == 79:
            start = max(revision for _, _, revision in written)
    expected = sorted((w for w in written if w[2] > start), key=lambda w: (w[2], w[1]))
    assert len(expected) == 3000
    events = store.watch(ns, after=start)
    try:
        seen = await collect(events, expected[-1][2])
    finally:
        await events.aclose()
    assert summary(seen) == expected


async def test_watch_below_the_compacted_revision_fails(store: Store, ns: str) -> None:
    old = await store.put(ns + "a", b"1")
    await store.put(ns + "a", b"2")
    kept = await store.put(ns + "a", b"3")
    await store.compact(kept)
    with pytest.raises(Compacted):
        async with asyncio.timeout(DEADLINE):
            async for _ in store.watch(ns, after=old):
                pass
    events = store.watch(ns, after=kept - 1)
    try:
        seen = await collect(events, kept)
    finally:
        await events.aclose()
    assert summary(seen) == [("PUT", ns + "a", kept)]


async def test_idle_watch_reports_progress(store: Store, ns: str) -> None:
    await store.put(ns[:-1] + "-elsewhere", b"1")  # a revision the watch does not match
    current = await store.revision()
    events = store.watch(ns, after=current - 1, progress_interval=0.2)
    try:
        async with asyncio.timeout(DEADLINE):
            event = await anext(events)
            while not (isinstance(event, Progress) and event.revision >= current):
                event = await anext(events)
    finally:
        await events.aclose()
    assert isinstance(event, Progress) and event.revision >= current


async def test_closing_a_watch_stops_it(store: Store, ns: str) -> None:
    events = store.watch(ns, after=await store.revision())
    task = asyncio.create_task(anext(events))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await events.aclose()
    await store.put(ns + "after-close", b"1")
    with pytest.raises(StopAsyncIteration):
        await anext(events)
