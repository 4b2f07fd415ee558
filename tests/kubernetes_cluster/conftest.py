"""Cluster controller test fixtures: a real API server (on the sqlite store only: the
controller never touches storage, and both backends pass one conformance suite),
a client over real gRPC, and the controller with test-sized intervals."""

from __future__ import annotations

import asyncio
import itertools
import pathlib
from collections.abc import AsyncIterator

import pytest
from cluster_support import DEADLINE, FAST

from krake_api.storage.base import Store
from krake_api.storage.sqlite import SqliteStore
from krake_controllers import kubernetes_cluster
from krake_controllers.runtime.client import Client, connect

_namespaces = itertools.count()


@pytest.fixture
async def store(tmp_path: pathlib.Path) -> AsyncIterator[Store]:
    opened = await SqliteStore.open(str(tmp_path / "krake.db"), timeout=5.0)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
def ns() -> str:
    return f"kc{next(_namespaces)}"


@pytest.fixture
async def client(api_target: str) -> AsyncIterator[Client]:
    async with connect(api_target) as channel:
        yield Client(channel, timeout=5.0)


@pytest.fixture
async def running(client: Client) -> AsyncIterator[kubernetes_cluster.ClusterController]:
    controller = kubernetes_cluster.build(client, timing=FAST, bookmark_interval=1.0)
    task = asyncio.create_task(controller.run())
    async with asyncio.timeout(DEADLINE):
        while not all(i.synced.is_set() for i in controller.informers):
            await asyncio.sleep(0.01)
    yield controller
    controller.shutdown()
    try:
        async with asyncio.timeout(DEADLINE):
            await task
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
