"""A backend that cannot answer raises Unavailable within the timeout, never hangs."""

from __future__ import annotations

import asyncio
import pathlib
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from krake_api.storage.base import Store, Unavailable
from krake_api.storage.sqlite import SqliteStore

TIMEOUT = 1.0
Breaker = Callable[[], None]


@pytest.fixture(params=["etcd", "sqlite"])
async def breakable(
    request: pytest.FixtureRequest, tmp_path: pathlib.Path
) -> AsyncIterator[tuple[Store, Breaker]]:
    """A store of its own and a function that takes its backend away."""
    if request.param == "etcd":
        from krake_api.storage.etcd import EtcdStore
        from krake_testing.etcd import EtcdCluster

        with EtcdCluster(1, fsync=False) as cluster:
            store: Store = await EtcdStore.connect(cluster.endpoints, timeout=TIMEOUT)
            try:
                yield store, lambda: cluster.kill(0)
            finally:
                await store.close()
        return
    path = str(tmp_path / "krake.db")
    store = await SqliteStore.open(path, timeout=TIMEOUT)
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        yield store, lambda: holder.execute("BEGIN EXCLUSIVE") and None
    finally:
        holder.close()
        await store.close()


async def elapsed(call: Awaitable[object]) -> float:
    loop = asyncio.get_running_loop()
    start = loop.time()
    with pytest.raises(Unavailable):
        await call
    return loop.time() - start


async def test_writes_to_an_unreachable_backend_fail_in_time(
    breakable: tuple[Store, Breaker],
) -> None:
    store, take_away = breakable
    await store.put("/faults/a", b"1")
    take_away()
    assert await elapsed(store.put("/faults/a", b"2")) < TIMEOUT + 1.0
    assert await elapsed(store.create("/faults/b", b"2")) < TIMEOUT + 1.0
