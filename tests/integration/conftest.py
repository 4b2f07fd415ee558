"""A Krake API server on a free port, over the `store` backend, and a channel to it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc.aio
import pytest

from krake_api import server
from krake_api.storage.base import Store
from krake_api.watch.streams import WatchCaches


@pytest.fixture
def caches(store: Store) -> WatchCaches:
    """Watch caches with test-sized settings: fast bookmarks, small client queues."""
    return WatchCaches(store, bookmark_interval=0.5, queue_size=200)


@pytest.fixture
async def api_target(store: Store, caches: WatchCaches) -> AsyncIterator[str]:
    """The address of a running API server."""
    api, _, port = server.build(store, "127.0.0.1:0", caches)
    await api.start()
    yield f"127.0.0.1:{port}"
    await api.stop(None)
    await caches.close()


@pytest.fixture
async def channel(api_target: str) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(api_target) as opened:
        yield opened
