"""Application controller tests: sqlite only (storage is not what they are about),
fake member clusters with short delays, and a typed API client."""

from __future__ import annotations

import itertools
import pathlib
from collections.abc import AsyncIterator

import pytest

from krake_api.storage.base import Store
from krake_api.storage.sqlite import SqliteStore
from krake_controllers.runtime.client import Client, connect
from krake_testing.kube import FakeCluster

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
    return f"apps{next(_namespaces)}"


@pytest.fixture
async def client(api_target: str) -> AsyncIterator[Client]:
    async with connect(api_target) as channel:
        yield Client(channel, timeout=5.0)


@pytest.fixture
async def cluster_a() -> AsyncIterator[FakeCluster]:
    async with FakeCluster("a", ready_delay=0.05, completion_delay=0.05) as cluster:
        yield cluster


@pytest.fixture
async def cluster_b() -> AsyncIterator[FakeCluster]:
    async with FakeCluster("b", ready_delay=0.05, completion_delay=0.05) as cluster:
        yield cluster
