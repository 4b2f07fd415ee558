"""The garbage collector against a real API server (both backends): the three
propagation policies, other controllers' finalizers, cycles, a 1,000-object
cascade, and fail-over between two replicas."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
import pytest
import structlog

from krake.core.v1 import metadata_pb2
from krake_api import registry
from krake_api.resources.verbs import PROPAGATION_FINALIZERS
from krake_controllers import garbage_collector
from krake_controllers.garbage_collector.collector import FOREGROUND, ORPHAN
from krake_controllers.garbage_collector.graph import ObjectKey
from krake_controllers.runtime.client import Client, connect
from krake_controllers.runtime.controller import Controller
from krake_controllers.runtime.leader import LeaderElector
from krake_testing.examples import example
from krake_testing.proxy import TcpProxy

KINDS = registry.KINDS
DEADLINE = 120.0


def test_the_collector_owns_the_finalizers_the_api_records() -> None:
    assert PROPAGATION_FINALIZERS == {
        metadata_pb2.FOREGROUND: FOREGROUND,
        metadata_pb2.ORPHAN: ORPHAN,
    }


async def start(controller: Controller[Any]) -> asyncio.Task[None]:
    task = asyncio.create_task(controller.run())
    async with asyncio.timeout(DEADLINE):
        while not all(i.synced.is_set() for i in controller.informers):
            await asyncio.sleep(0.01)
    return task


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


@pytest.fixture
async def collector(client: Client) -> AsyncIterator[Controller[Any]]:
    controller = garbage_collector.build(client, bookmark_interval=1.0)
    task = await start(controller)
    yield controller
    await stop(task)


def ref(obj: Any) -> Any:
    return metadata_pb2.ResourceRef(
        api=obj.api,
        kind=obj.kind,
        namespace=obj.metadata.namespace,
        name=obj.metadata.name,
        uid=obj.metadata.uid,
    )


async def make(
    client: Client, kind: str, ns: str, name: str, *owners: Any, finalizer: str = ""
) -> Any:
    obj: Any = example(KINDS[kind], name=name, namespace=ns)
    obj.metadata.owners.extend(ref(o) for o in owners)
    if finalizer:
        obj.metadata.finalizers.append(finalizer)
    return await client.kind(KINDS[kind]).create(obj)


async def exists(client: Client, obj: Any) -> Any:
    try:
        return await client.kind(KINDS[obj.kind]).get(obj.metadata.namespace, obj.metadata.name)
    except grpc.aio.AioRpcError as err:
        assert err.code() == grpc.StatusCode.NOT_FOUND
        return None


async def until(check: Callable[[], Any]) -> None:
    async with asyncio.timeout(DEADLINE):
        while not await check():
            await asyncio.sleep(0.02)


async def delete(client: Client, obj: Any, policy: int = metadata_pb2.BACKGROUND) -> Any:
    return await client.kind(KINDS[obj.kind]).delete(
        obj.metadata.namespace, obj.metadata.name, propagation=policy
    )


async def tree(client: Client, ns: str) -> tuple[Any, list[Any]]:
    """A Cluster owning two Applications and a Metric; one Application owns a Lease."""
    root = await make(client, "Cluster", ns, "root")
    web = await make(client, "Application", ns, "web", root)
    db = await make(client, "Application", ns, "db", root)
    metric = await make(client, "Metric", ns, "load", root)
    lease = await make(client, "Lease", ns, "web-lease", web)
    return root, [web, db, metric, lease]


async def none_left(client: Client, objects: list[Any]) -> bool:
    return all([await exists(client, o) is None for o in objects])


@pytest.mark.usefixtures("collector")
async def test_background_deletes_the_owner_then_every_level(client: Client, ns: str) -> None:
    root, dependents = await tree(client, ns)
    assert not (await delete(client, root)).metadata.finalizers  # removed at once
    await until(lambda: none_left(client, dependents))


@pytest.mark.usefixtures("collector")
async def test_foreground_keeps_the_owner_until_its_dependents_are_gone(
    client: Client, ns: str
) -> None:
    root, dependents = await tree(client, ns)
    marked = await delete(client, root, metadata_pb2.FOREGROUND)
    assert list(marked.metadata.finalizers) == [FOREGROUND] and marked.metadata.HasField("deleted")
    removed: dict[str, int] = {}
    since = marked.metadata.resource_version

    async def watch(kind: str) -> None:
        async for event in client.kind(KINDS[kind]).events(ns, resource_version=since):
            if event.type == metadata_pb2.DELETED:
                removed[event.object.metadata.name] = int(event.object.metadata.resource_version)

    watchers = [
        asyncio.create_task(watch(k)) for k in ("Cluster", "Application", "Metric", "Lease")
    ]
    try:
        await until(lambda: none_left(client, [root, *dependents]))
        await until(lambda: asyncio.sleep(0, len(removed) == 5))
    finally:
        for task in watchers:
            task.cancel()
        await asyncio.gather(*watchers, return_exceptions=True)
    assert removed["root"] > max(v for k, v in removed.items() if k != "root")
    assert removed["web"] > removed["web-lease"]  # bottom-up below the owner too


async def test_orphan_leaves_dependents_without_the_reference(
    client: Client, ns: str, collector: Controller[Any]
) -> None:
    root, dependents = await tree(client, ns)
    await delete(client, root, metadata_pb2.ORPHAN)
    await until(lambda: none_left(client, [root]))
    for dependent in dependents[:3]:
        kept = await exists(client, dependent)
        assert kept is not None and list(kept.metadata.owners) == []
    lease = await exists(client, dependents[3])
    assert [o.name for o in lease.metadata.owners] == ["web"]  # other owners are untouched


@pytest.mark.parametrize("policy", [metadata_pb2.ORPHAN, metadata_pb2.FOREGROUND])
async def test_an_owner_waits_for_every_informer_to_reach_its_deletion(
    client: Client, ns: str, policy: int
) -> None:
    """An informer that has not delivered a dependent yet holds the owner back: the
    dependent is orphaned (not later deleted as ownerless), or deleted first."""
    controller = garbage_collector.build(client, bookmark_interval=1.0)
    collector, graph = controller.reconciler, controller.reconciler.graph
    late = graph.informers["Application"]
    running = [asyncio.create_task(i.run()) for i in controller.informers if i is not late]
    apps = client.kind(KINDS["Application"])
    try:
        root, (_, db, *_) = await tree(client, ns)
        marked = await delete(client, root, policy)
        key, revision = ObjectKey.of(root), int(marked.metadata.resource_version)

        async def seen_deleting() -> bool:
            cached = graph.get(key)
            return cached is not None and cached.metadata.HasField("deleted")

        await until(seen_deleting)
        # the idle informers move on with the API's bookmarks; the stopped one cannot
        await until(lambda: asyncio.sleep(0, graph.behind(revision) == ["Application"]))
        assert (await collector.reconcile(key)).requeue_after > 0
        assert list((await exists(client, root)).metadata.finalizers) == list(
            marked.metadata.finalizers
        )
        running.append(asyncio.create_task(late.run()))
        await until(lambda: asyncio.sleep(0, not graph.behind(revision)))
        assert (await collector.reconcile(key)).requeue_after == 0
        if policy == metadata_pb2.ORPHAN:
            assert await exists(client, root) is None
            for name in ("web", "db"):
                assert list((await apps.get(ns, name)).metadata.owners) == []
        else:  # the dependents go first: db at once, web after its own lease
            assert await exists(client, root) is not None
            assert (await apps.get(ns, "web")).metadata.HasField("deleted")
            assert await exists(client, db) is None
    finally:
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)


@pytest.mark.usefixtures("collector")
async def test_other_controllers_finalizers_are_respected(client: Client, ns: str) -> None:
    root = await make(client, "Cluster", ns, "root")
    held = await make(client, "Application", ns, "held", root, finalizer="example.com/cleanup")
    await delete(client, root, metadata_pb2.FOREGROUND)

    async def held_deleting() -> bool:
        current = await exists(client, held)
        return bool(current and current.metadata.HasField("deleted"))

    await until(held_deleting)
    current = await exists(client, held)
    assert list(current.metadata.finalizers) == ["example.com/cleanup"]
    assert (await exists(client, root)) is not None  # blocked by the held dependent
    current.metadata.ClearField("finalizers")
    await client.kind(KINDS["Application"]).update(current)  # the other controller is done
    await until(lambda: none_left(client, [root, held]))


@pytest.mark.usefixtures("collector")
async def test_a_cycle_of_owners_does_not_hang_and_is_reported(client: Client, ns: str) -> None:
    first = await make(client, "Application", ns, "first")
    second = await make(client, "Application", ns, "second", first)
    first.metadata.owners.append(ref(second))
    first = await client.kind(KINDS["Application"]).update(first)
    reasons: list[str] = []

    async def watch() -> None:
        async for event in client.kind(KINDS["Application"]).events(ns):
            if event.object.status.reason.message:
                reasons.append(event.object.status.reason.message)

    watcher = asyncio.create_task(watch())
    try:
        with structlog.testing.capture_logs() as logs:
            await delete(client, first, metadata_pb2.FOREGROUND)
            await until(lambda: none_left(client, [first, second]))
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
    assert any(line["event"] == "gc.cycle" for line in logs)
    assert reasons and "cycle" in reasons[0]


@pytest.mark.parametrize("store", ["etcd"], indirect=True)
async def test_a_thousand_object_cascade_leaves_nothing(
    client: Client, collector: Controller[Any], ns: str
) -> None:
    """On one backend: the collector sees only the API, and the other tests here run
    on both; bench/controllers.py times this cascade on each."""
    root = await make(client, "Cluster", ns, "root")
    children = await asyncio.gather(
        *(make(client, "Application", ns, f"app{i}", root) for i in range(9))
    )
    limit = asyncio.Semaphore(32)

    async def grandchild(i: int) -> Any:
        async with limit:
            return await make(client, "Metric", ns, f"m{i}", children[i % 9])

    loop = asyncio.get_running_loop()
    started = loop.time()
    await asyncio.gather(*(grandchild(i) for i in range(990)))
    created = loop.time()
    await delete(client, root)

    async def empty() -> bool:
        left = [
            len((await client.kind(KINDS[k]).list(ns)).items)
            for k in ("Cluster", "Application", "Metric")
        ]
        return sum(left) == 0

    await until(empty)
    print(f"created in {created - started:.1f} s, collected in {loop.time() - created:.1f} s")


async def test_a_standby_replica_takes_over_when_the_leader_is_cut_off(
    api_target: str, client: Client, ns: str
) -> None:
    timing = {"lease_duration": 3.0, "renew_deadline": 2.0, "retry_period": 0.25}
    proxy = TcpProxy(api_target)
    replicas = []
    for name, target in (("first", await proxy.start()), ("second", api_target)):
        channel = connect(target)
        own = Client(channel, timeout=2.0)
        elector = LeaderElector(own.kind(KINDS["Lease"]), "gc", name, namespace=ns, **timing)
        controller = garbage_collector.build(own, elector=elector, bookmark_interval=1.0)
        replicas.append((channel, elector, await start(controller)))
    (_, first, _), (_, second, _) = replicas
    try:
        await until(lambda: asyncio.sleep(0, first.leading))
        root = await make(client, "Cluster", ns, "root")
        app = await make(client, "Application", ns, "app", root)
        await proxy.partition()
        await until(lambda: asyncio.sleep(0, second.leading and not first.leading))
        await delete(client, root)
        await until(lambda: none_left(client, [app]))  # collected by the new leader
    finally:
        for channel, _, task in replicas:
            await stop(task)
            await channel.close()
        await proxy.close()
