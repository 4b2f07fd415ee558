"""Leases: keys attached to a lease go when it expires or is revoked."""

from __future__ import annotations

import asyncio

import pytest

from krake_api.storage.base import Change, ChangeType, LeaseNotFound, Store


async def next_change(events: object) -> Change:
    async with asyncio.timeout(10.0):
        while True:
            event = await anext(events)
            if isinstance(event, Change):
                return event


async def test_lease_expiry_deletes_its_keys_and_emits_delete(store: Store, ns: str) -> None:
    lease = await store.grant(1)
    created = await store.create(ns + "leased", b"held", lease=lease)
    await store.put(ns + "free", b"kept")
    entry = await store.get(ns + "leased")
    assert entry is not None and entry.lease == lease
    events = store.watch(ns + "leased", after=created)
    try:
        change = await next_change(events)
    finally:
        await events.aclose()
    assert (change.type, change.key, change.prev_value) == (
        ChangeType.DELETE,
        ns + "leased",
        b"held",
    )
    assert await store.get(ns + "leased") is None
    assert await store.get(ns + "free") is not None
    with pytest.raises(LeaseNotFound):
        await store.keepalive(lease)


async def test_keepalive_extends_and_revoke_ends_a_lease(store: Store, ns: str) -> None:
    """Keepalives every 0.75 s hold a 3 s lease past its TTL. The 2.25 s of slack per
    keepalive covers a loaded machine's stalls (several workers on two cores)."""
    lease = await store.grant(3)
    await store.put(ns + "a", b"1", lease=lease)
    for _ in range(5):
        await asyncio.sleep(0.75)
        assert await store.keepalive(lease) == 3
    assert await store.get(ns + "a") is not None  # >= 3.75 s after the grant: kept alive
    before = await store.revision()
    await store.revoke(lease)
    assert await store.get(ns + "a") is None
    assert await store.revision() > before
    with pytest.raises(LeaseNotFound):
        await store.revoke(lease)


async def test_writing_with_an_unknown_lease_fails(store: Store, ns: str) -> None:
    with pytest.raises(LeaseNotFound):
        await store.put(ns + "a", b"1", lease=123456789)
    assert await store.get(ns + "a") is None
