"""Fixtures shared by every test folder: real etcd servers, asyncio hygiene."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from krake_testing.etcd import EtcdCluster


@pytest.fixture(scope="session")
def etcd() -> Iterator[EtcdCluster]:
    """One real etcd server for the session; tests keep to their own key prefix."""
    from krake_testing.etcd import EtcdCluster

    with EtcdCluster(1, fsync=False) as cluster:
        yield cluster


@pytest.fixture(autouse=True)
async def no_leaked_tasks() -> AsyncIterator[None]:
    """Fail a test that leaves asyncio tasks running behind it."""
    before = asyncio.all_tasks()
    yield
    deadline = asyncio.get_running_loop().time() + 2.0
    while True:
        leaked = {t for t in asyncio.all_tasks() - before if not t.done()}
        leaked.discard(asyncio.current_task())
        if not leaked or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.01)
    assert not leaked, f"tasks left running: {leaked}"
