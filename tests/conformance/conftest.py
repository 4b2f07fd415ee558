"""The `store` fixture: every conformance test body runs on etcd and on sqlite."""

from __future__ import annotations

import itertools
import pathlib
from collections.abc import AsyncIterator

import pytest

from krake_api.storage.base import Store
from krake_api.storage.sqlite import SqliteStore

_prefixes = itertools.count()


@pytest.fixture(params=["etcd", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> AsyncIterator[Store]:
    if request.param == "etcd":
        from krake_api.storage.etcd import EtcdStore

        cluster = request.getfixturevalue("etcd")
        opened: Store = await EtcdStore.connect(cluster.endpoints, timeout=5.0)
    else:
        opened = await SqliteStore.open(str(tmp_path / "krake.db"), timeout=5.0)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
def ns() -> str:
    """A key prefix of this test's own (the etcd server is shared by the session)."""
    return f"/conformance/{next(_prefixes)}/"
