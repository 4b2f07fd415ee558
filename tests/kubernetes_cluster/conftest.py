"""Cluster controller test fixtures: a real API server (on the sqlite store only: the
controller never touches storage, and both backends pass one conformance suite),
a client over real gRPC, and the controller with test-sized intervals."""

from __future__ import annotations

import itertools
import pathlib
from collections.abc import AsyncIterator

import pytest
from cluster_support import controller_running

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
    async with controller_running(client) as controller:
        yield controller
