"""Scheduler test fixtures: a real API server, a client over real gRPC, the
scheduler controller with test-sized intervals (helpers: scheduling_support.py)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator

import pytest
from scheduling_support import DEADLINE, FAST

from krake_controllers import scheduler
from krake_controllers.runtime.client import Client, connect

_namespaces = itertools.count()


@pytest.fixture
def ns() -> str:
    return f"sched{next(_namespaces)}"


@pytest.fixture
async def client(api_target: str) -> AsyncIterator[Client]:
    async with connect(api_target) as channel:
        yield Client(channel, timeout=30.0)


@pytest.fixture
async def running(client: Client) -> AsyncIterator[scheduler.SchedulerController]:
    controller = scheduler.build(client, settings=FAST, bookmark_interval=1.0)
    task = asyncio.create_task(controller.run())
    async with asyncio.timeout(DEADLINE):
        while not all(i.synced.is_set() for i in controller.informers):
            await asyncio.sleep(0.01)
    yield controller
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
