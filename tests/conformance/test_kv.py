"""Single-key reads and writes, ranges and pagination: the same bodies on every backend."""

from __future__ import annotations

import asyncio

import pytest

from krake_api.storage.base import (
    MAX_VALUE_SIZE,
    Compacted,
    KeyExists,
    KeyNotFound,
    RevisionMismatch,
    Store,
    TooLarge,
)


async def test_create_then_get(store: Store, ns: str) -> None:
    assert await store.get(ns + "a") is None
    before = await store.revision()
    revision = await store.create(ns + "a", b"one")
    assert revision > before
    assert await store.revision() == revision
    entry = await store.get(ns + "a")
    assert entry is not None
    assert (entry.key, entry.value) == (ns + "a", b"one")
    assert entry.create_revision == entry.mod_revision == revision


async def test_create_of_an_existing_key_fails_and_changes_nothing(store: Store, ns: str) -> None:
    await store.create(ns + "a", b"one")
    before = await store.revision()
    with pytest.raises(KeyExists, match="/a"):
        await store.create(ns + "a", b"two")
    entry = await store.get(ns + "a")
    assert entry is not None and entry.value == b"one"
    assert await store.revision() == before


async def test_replace_is_a_compare_and_swap(store: Store, ns: str) -> None:
    created = await store.create(ns + "a", b"one")
    replaced = await store.replace(ns + "a", b"two", expect=created)
    entry = await store.get(ns + "a")
    assert entry is not None
    assert (entry.value, entry.create_revision, entry.mod_revision) == (b"two", created, replaced)
    with pytest.raises(RevisionMismatch) as failed:
        await store.replace(ns + "a", b"three", expect=created)
    assert (failed.value.key, failed.value.expected, failed.value.actual) == (
        ns + "a",
        created,
        replaced,
    )
    assert await store.revision() == replaced
    assert (await store.get(ns + "a")).value == b"two"  # type: ignore[union-attr]
    for expect in (created, 0):
        with pytest.raises(RevisionMismatch, match="no such key"):
            await store.replace(ns + "missing", b"x", expect=expect)
        with pytest.raises(RevisionMismatch, match="no such key"):
            await store.delete(ns + "missing", expect=expect)
    assert await store.get(ns + "missing") is None


async def test_delete_with_and_without_precondition(store: Store, ns: str) -> None:
    with pytest.raises(KeyNotFound, match="/missing"):
        await store.delete(ns + "missing")
    created = await store.create(ns + "a", b"one")
    with pytest.raises(RevisionMismatch):
        await store.delete(ns + "a", expect=created + 1000)
    assert await store.get(ns + "a") is not None
    deleted = await store.delete(ns + "a", expect=created)
    assert deleted > created
    assert await store.get(ns + "a") is None
    await store.put(ns + "a", b"again")
    entry = await store.get(ns + "a")
    assert entry is not None and entry.create_revision > deleted


async def test_put_creates_or_overwrites(store: Store, ns: str) -> None:
    first = await store.put(ns + "a", b"one")
    second = await store.put(ns + "a", b"two")
    entry = await store.get(ns + "a")
    assert entry is not None
    assert (entry.value, entry.create_revision, entry.mod_revision) == (b"two", first, second)


async def test_concurrent_creates_of_one_key_have_exactly_one_winner(store: Store, ns: str) -> None:
    async def attempt(i: int) -> int | None:
        try:
            return await store.create(ns + "contested", str(i).encode())
        except KeyExists:
            return None

    results = await asyncio.gather(*(attempt(i) for i in range(100)))
    winners = [(i, rev) for i, rev in enumerate(results) if rev is not None]
    assert len(winners) == 1
    ((winner, revision),) = winners
    entry = await store.get(ns + "contested")
    assert entry is not None
    assert (entry.value, entry.mod_revision) == (str(winner).encode(), revision)


async def test_values_over_the_limit_are_refused_before_any_write(store: Store, ns: str) -> None:
    before = await store.revision()
    with pytest.raises(TooLarge, match="/big"):
        await store.create(ns + "big", b"x" * (MAX_VALUE_SIZE + 1))
    with pytest.raises(TooLarge):
        await store.put(ns + "big", b"x" * (MAX_VALUE_SIZE + 1))
    assert await store.get(ns + "big") is None
    assert await store.revision() == before
    await store.create(ns + "big", b"x" * MAX_VALUE_SIZE)
    entry = await store.get(ns + "big")
    assert entry is not None and len(entry.value) == MAX_VALUE_SIZE


async def test_range_is_sorted_paged_and_prefix_bound(store: Store, ns: str) -> None:
    for name in ["b", "a", "c/x", "d"]:
        await store.put(ns + name, name.encode())
    await store.put(ns[:-1] + "x", b"outside")  # shares the prefix minus its slash
    page = await store.range(ns)
    assert [e.key for e in page.entries] == [ns + k for k in ["a", "b", "c/x", "d"]]
    assert not page.more and page.revision == await store.revision()
    first = await store.range(ns, limit=2)
    assert [e.key for e in first.entries] == [ns + "a", ns + "b"] and first.more
    rest = await store.range(ns, start_after=ns + "b", limit=2)
    assert [e.key for e in rest.entries] == [ns + "c/x", ns + "d"] and not rest.more
    assert [e.value for e in (await store.range(ns + "c/")).entries] == [b"c/x"]


async def test_pages_read_at_one_revision_ignore_concurrent_writes(store: Store, ns: str) -> None:
    for i in range(60):
        await store.put(f"{ns}{i:03}", b"v0")
    snapshot = {e.key: e.value for e in (await store.range(ns)).entries}
    first = await store.range(ns, limit=7)
    pinned = first.revision

    async def churn() -> None:
        for i in range(0, 60, 3):
            await store.put(f"{ns}{i:03}", b"changed")
            await store.delete(f"{ns}{i + 1:03}")
            await store.put(f"{ns}{i:03}x", b"added")

    writer = asyncio.create_task(churn())
    seen = {e.key: e.value for e in first.entries}
    page = first
    while page.more:
        await asyncio.sleep(0)
        page = await store.range(ns, start_after=page.entries[-1].key, limit=7, revision=pinned)
        assert page.revision == pinned
        seen |= {e.key: e.value for e in page.entries}
    await writer
    assert seen == snapshot
    now = {e.key: e.value for e in (await store.range(ns)).entries}
    assert now != snapshot and now[f"{ns}000"] == b"changed"


async def test_range_at_an_old_revision_sees_old_values(store: Store, ns: str) -> None:
    await store.put(ns + "a", b"one")
    old = await store.put(ns + "b", b"one")
    await store.put(ns + "a", b"two")
    await store.delete(ns + "b")
    await store.put(ns + "c", b"new")
    page = await store.range(ns, revision=old)
    assert [(e.key, e.value) for e in page.entries] == [(ns + "a", b"one"), (ns + "b", b"one")]
    assert page.revision == old
    assert [e.key for e in (await store.range(ns)).entries] == [ns + "a", ns + "c"]


async def test_reads_below_the_compacted_revision_fail(store: Store, ns: str) -> None:
    old = await store.put(ns + "a", b"one")
    await store.put(ns + "a", b"two")
    kept = await store.put(ns + "b", b"one")
    await store.put(ns + "b", b"two")
    await store.compact(kept)
    with pytest.raises(Compacted):
        await store.range(ns, revision=old)
    page = await store.range(ns, revision=kept)
    assert [(e.key, e.value) for e in page.entries] == [(ns + "a", b"two"), (ns + "b", b"one")]
