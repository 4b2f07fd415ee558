"""Informers against a real API server: consistent across a server crash, relisting
after compaction, reopening a silent watch, resyncing from the cache."""

from __future__ import annotations

import asyncio
import pathlib
import random
from collections.abc import AsyncIterator
from typing import Any

import grpc
import grpc.aio
import pytest
import structlog

from krake_api import registry, server
from krake_api.resources import verbs
from krake_api.storage.base import Store
from krake_api.watch.streams import WatchCaches
from krake_controllers.runtime.backoff import Backoff
from krake_controllers.runtime.client import Client, KindClient, connect
from krake_controllers.runtime.informer import DELETED, RESYNC, UPDATED, Event, Informer, by_label
from krake_testing.api import ApiProcess
from krake_testing.examples import example

APP = registry.KINDS["Application"]
DEADLINE = 120.0  # a condition deadline: generous for loaded CI machines
FAST = Backoff(base=0.05, cap=0.5)


def app(ns: str, name: str, **labels: str) -> Any:
    obj: Any = example(APP, name=name, namespace=ns)
    obj.metadata.labels.update(labels)
    return obj


class Mirror:
    """What a handler rebuilds from the events alone."""

    def __init__(self) -> None:
        self.objects: dict[str, str] = {}
        self.events: list[Event] = []

    def __call__(self, event: Event) -> None:
        self.events.append(event)
        if event.type == DELETED:
            self.objects.pop(event.key, None)
        else:
            self.objects[event.key] = event.object.metadata.resource_version


def versions(objects: dict[str, Any]) -> dict[str, str]:
    return {key: obj.metadata.resource_version for key, obj in objects.items()}


async def until(condition: Any, what: str) -> None:
    async with asyncio.timeout(DEADLINE):
        while not condition():
            await asyncio.sleep(0.02)


@pytest.fixture
async def running(informer: Informer) -> AsyncIterator[Informer]:
    task = asyncio.create_task(informer.run())
    async with asyncio.timeout(DEADLINE):
        await informer.synced.wait()
    yield informer
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def writes(apps: KindClient, ns: str, count: int, rng: random.Random) -> int:
    """`count` random creates/updates/deletes that succeed; UNAVAILABLE is retried."""
    done = 0
    while done < count:
        name = f"app{rng.randrange(20)}"
        try:
            try:
                current = await apps.get(ns, name)
            except grpc.aio.AioRpcError as err:
                if err.code() != grpc.StatusCode.NOT_FOUND:
                    raise
                await apps.create(app(ns, name))
            else:
                if rng.random() < 0.3:
                    await apps.delete(ns, name)
                else:
                    current.metadata.labels["n"] = str(done)
                    await apps.update(current)
            done += 1
        except grpc.aio.AioRpcError as err:
            # the server may be down for longer than one call's deadline on a slow machine
            if err.code() not in (
                grpc.StatusCode.UNAVAILABLE,
                grpc.StatusCode.DEADLINE_EXCEEDED,
                grpc.StatusCode.NOT_FOUND,
            ):
                raise
            await asyncio.sleep(0.05)
    return done


@pytest.mark.parametrize("backend", ["etcd", "sqlite"])
async def test_the_cache_equals_a_fresh_list_after_a_server_crash(
    backend: str, tmp_path: pathlib.Path, request: pytest.FixtureRequest, ns: str
) -> None:
    storage = (
        "etcd://" + ",".join(request.getfixturevalue("etcd").endpoints).replace("http://", "")
        if backend == "etcd"
        else f"sqlite:///{tmp_path}/krake.db"
    )
    api = ApiProcess(storage, bookmark_interval=1.0)
    await asyncio.to_thread(api.start)
    try:
        async with connect(api.grpc) as channel:
            apps = Client(channel, timeout=5.0).kind(APP)
            informer = Informer(apps, namespace=ns, bookmark_interval=1.0, backoff=FAST)
            mirror = Mirror()
            informer.add_handler(mirror)
            task = asyncio.create_task(informer.run())
            rng = random.Random(5)
            await writes(apps, ns, 60, rng)
            writer = asyncio.create_task(writes(apps, ns, 60, rng))
            await until(lambda: len(mirror.events) > 70, "events flowing")
            await asyncio.to_thread(api.kill)  # mid-stream: the writer is still writing
            await asyncio.to_thread(api.start)
            async with asyncio.timeout(DEADLINE):
                await writer
            fresh = await apps.list(ns)
            expected = {f"{ns}/{o.metadata.name}": o.metadata.resource_version for o in fresh.items}
            await until(lambda: versions(informer.cache) == expected, "cache converged")
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    finally:
        await asyncio.to_thread(api.kill)
    assert mirror.objects == expected  # the handlers saw every change, nothing extra
    # (a resume at exactly the restarted server's first revision needs no relist)


async def test_a_resume_older_than_the_history_relists_and_emits_the_difference(
    store: Store, ns: str
) -> None:
    caches = WatchCaches(store, bookmark_interval=0.5, ring_size=5)
    first, _, port = server.build(store, "127.0.0.1:0", caches)
    await first.start()
    for name in ("a", "b", "c"):
        await verbs.create(store, APP, ns, app(ns, name))
    async with connect(f"127.0.0.1:{port}") as channel:
        informer = Informer(
            Client(channel, timeout=5.0).kind(APP),
            namespace=ns,
            bookmark_interval=0.5,
            backoff=FAST,
        )
        mirror = Mirror()
        informer.add_handler(mirror)
        task = asyncio.create_task(informer.run())
        await until(lambda: len(informer.cache) == 3, "listed")
        await first.stop(None)
        await verbs.delete(store, APP, ns, "a")
        await verbs.update(store, APP, app(ns, "b", changed="yes"))
        for i in range(10):  # more changes than the history keeps
            await verbs.create(store, APP, ns, app(ns, f"new{i}"))
        await store.compact(await store.revision())
        second, _, _ = server.build(store, f"127.0.0.1:{port}", caches)
        await second.start()
        try:
            await until(lambda: len(informer.cache) == 12, "relisted")
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await second.stop(None)
            await caches.close()
    assert informer.relists == 2
    assert [e.key for e in mirror.events if e.type == DELETED] == [f"{ns}/a"]
    (changed,) = [e for e in mirror.events if e.type == UPDATED]
    assert changed.key == f"{ns}/b" and changed.object.metadata.labels["changed"] == "yes"
    assert set(informer.cache) == {f"{ns}/{n}" for n in ["b", "c", *(f"new{i}" for i in range(10))]}


async def test_a_silent_watch_is_reopened(client: Client, caches: WatchCaches, ns: str) -> None:
    caches.bookmark_interval = 60.0  # the server stays silent
    informer = Informer(client.kind(APP), namespace=ns, bookmark_interval=0.1, backoff=FAST)
    with structlog.testing.capture_logs() as logs:
        task = asyncio.create_task(informer.run())
        try:
            await until(
                lambda: sum(line["event"] == "informer.dead_watch" for line in logs) >= 2,
                "reopened twice",
            )
            await client.kind(APP).create(app(ns, "late"))
            await until(lambda: f"{ns}/late" in informer.cache, "still following")
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def test_indexes_follow_changes_and_resync_replays_the_cache(client: Client, ns: str) -> None:
    apps = client.kind(APP)
    informer = Informer(
        apps, namespace=ns, indexers={"tier": by_label("tier")}, resync=0.2, backoff=FAST
    )
    mirror = Mirror()
    informer.add_handler(mirror)
    task = asyncio.create_task(informer.run())
    try:
        front = await apps.create(app(ns, "web", tier="front"))
        await apps.create(app(ns, "db", tier="back"))
        await until(lambda: len(informer.cache) == 2, "listed")
        assert [o.metadata.name for o in informer.index("tier", "front")] == ["web"]
        front.metadata.labels["tier"] = "back"
        await apps.update(front)
        await until(lambda: len(informer.index("tier", "back")) == 2, "re-indexed")
        assert informer.index("tier", "front") == []
        await until(
            lambda: {e.key for e in mirror.events if e.type == RESYNC} == set(informer.cache),
            "resynced",
        )
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
