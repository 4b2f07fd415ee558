"""Controller tests: a typed client to an API server over the `store` backend."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import pytest

from krake_controllers.runtime.client import Client, connect

_namespaces = itertools.count()


@pytest.fixture
def ns() -> str:
    return f"ctl{next(_namespaces)}"


@pytest.fixture
async def client(api_target: str) -> AsyncIterator[Client]:
    async with connect(api_target) as channel:
        yield Client(channel, timeout=5.0)
