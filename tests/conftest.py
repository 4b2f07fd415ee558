"""Fixtures shared by every test folder: real etcd servers, a store on each backend,
an API server over it and a channel to it, asyncio hygiene."""

from __future__ import annotations

import asyncio
import pathlib
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

import grpc.aio
import hypothesis
import pytest
from hang_report import HUNG, pytest_timeout_set_timer  # noqa: F401  (a hook)

from krake_api import server
from krake_api.storage.base import Store
from krake_api.storage.sqlite import SqliteStore
from krake_api.watch.streams import WatchCaches

# Property tests are pure, but a loaded CI machine can stall any one example for
# longer than hypothesis' 200 ms deadline: no deadlines, no too-slow health check.
hypothesis.settings.register_profile(
    "krake", deadline=None, suppress_health_check=[hypothesis.HealthCheck.too_slow]
)
hypothesis.settings.load_profile("krake")

if TYPE_CHECKING:
    from krake_testing.etcd import EtcdCluster


@pytest.fixture(scope="session")
def etcd() -> Iterator[EtcdCluster]:
    """One real etcd server for the session; tests keep to their own key prefix."""
    from krake_testing.etcd import EtcdCluster

    with EtcdCluster(1, fsync=False) as cluster:
        yield cluster


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
def caches(store: Store) -> WatchCaches:
    """Watch caches with test-sized settings: fast bookmarks, small client queues."""
    return WatchCaches(store, bookmark_interval=0.5, queue_size=200)


@pytest.fixture
async def api_target(store: Store, caches: WatchCaches) -> AsyncIterator[str]:
    """The address of a running API server (gRPC) over `store`."""
    api, _, port = server.build(store, "127.0.0.1:0", caches)
    await api.start()
    yield f"127.0.0.1:{port}"
    await api.stop(None)
    await caches.close()


@pytest.fixture
async def channel(api_target: str) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(api_target) as opened:
        yield opened


@pytest.fixture(autouse=True)
async def no_leaked_tasks(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """Fail a test that leaves asyncio tasks running behind it (one that hung has
    failed already: its tasks are cancelled, for its retry)."""
    before = asyncio.all_tasks()
    yield
    if request.node.stash.get(HUNG, False):
        hung = asyncio.all_tasks() - before - {asyncio.current_task()}
        for task in hung:
            task.cancel()
        if hung:
            await asyncio.wait(hung, timeout=5.0)
        return
    deadline = asyncio.get_running_loop().time() + 2.0
    while True:
        leaked = {t for t in asyncio.all_tasks() - before if not t.done()}
        leaked.discard(asyncio.current_task())
        if not leaked or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.01)
    assert not leaked, f"tasks left running: {leaked}"
