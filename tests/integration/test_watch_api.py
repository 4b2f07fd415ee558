"""Watch over gRPC, fed by the watch cache, on both backends."""

from __future__ import annotations

import asyncio
import itertools
import random
from typing import Any

import grpc
import grpc.aio
import pytest

from krake.core.v1 import metadata_pb2
from krake.kubernetes.v1 import kubernetes_service_pb2 as api
from krake.kubernetes.v1 import kubernetes_service_pb2_grpc
from krake_api import registry
from krake_api.resources import verbs
from krake_api.storage.base import Store
from krake_testing.examples import example

KIND = registry.KINDS["Application"]
_namespaces = itertools.count()
DEADLINE = 60.0


@pytest.fixture
def ns() -> str:
    return f"watch{next(_namespaces)}"


def app(ns: str, name: str, **labels: str) -> Any:
    obj: Any = example(KIND, name=name, namespace=ns)
    obj.metadata.labels.update(labels)
    return obj


def stub(channel: grpc.aio.Channel) -> Any:
    return kubernetes_service_pb2_grpc.KubernetesServiceStub(channel)


async def take(call: Any, count: int, *, bookmarks: bool = False) -> list[tuple[int, str, str]]:
    seen: list[tuple[int, str, str]] = []
    async with asyncio.timeout(DEADLINE):
        while len(seen) < count:
            event = await call.read()
            assert event is not grpc.aio.EOF
            if event.type == metadata_pb2.BOOKMARK and not bookmarks:
                continue
            seen.append(
                (event.type, event.object.metadata.name, event.object.metadata.resource_version)
            )
    return seen


async def test_watch_lists_then_follows(channel: grpc.aio.Channel, store: Store, ns: str) -> None:
    for name in ("a", "b"):
        await verbs.create(store, KIND, ns, app(ns, name))
    call = stub(channel).WatchApplications(api.WatchApplicationsRequest(namespace=ns))
    try:
        assert [(t, n) for t, n, _ in await take(call, 2)] == [
            (metadata_pb2.ADDED, "a"),
            (metadata_pb2.ADDED, "b"),
        ]
        created = await verbs.create(store, KIND, ns, app(ns, "c"))
        updated = await verbs.update(store, KIND, app(ns, "a", extra="1"))
        deleted = await verbs.delete(store, KIND, ns, "b")
        await verbs.create(store, KIND, ns + "x", app(ns + "x", "elsewhere"))
        seen = await take(call, 3)
    finally:
        call.cancel()
    assert [(t, n) for t, n, _ in seen] == [
        (metadata_pb2.ADDED, "c"),
        (metadata_pb2.UPDATED, "a"),
        (metadata_pb2.DELETED, "b"),
    ]
    revisions = [int(rv) for _, _, rv in seen]
    assert revisions[0] == int(created.metadata.resource_version)  # type: ignore[attr-defined]
    assert revisions[1] == int(updated.metadata.resource_version)  # type: ignore[attr-defined]
    assert revisions[2] > revisions[1] and deleted.metadata.HasField("deleted")  # type: ignore[attr-defined]


@pytest.mark.timeout(DEADLINE * 6 + 120)  # above its own bound, which says more
async def test_resuming_from_the_last_version_loses_and_repeats_nothing(
    channel: grpc.aio.Channel, store: Store, ns: str
) -> None:
    """10,000 changes; the client drops its stream at random points and resumes."""
    names = [f"app{i}" for i in range(100)]
    await asyncio.gather(*(verbs.create(store, KIND, ns, app(ns, n)) for n in names))
    listing = stub(channel).WatchApplications(api.WatchApplicationsRequest(namespace=ns))
    start = max(int(v) for _, _, v in await take(listing, 100))  # the cache is running
    listing.cancel()
    rng = random.Random(3)
    written: list[int] = []

    async def writer() -> None:
        for wave in range(200):
            batch = rng.sample(names, 50)
            done = await asyncio.gather(
                *(verbs.update(store, KIND, app(ns, n, wave=str(wave))) for n in batch)
            )
            written.extend(int(o.metadata.resource_version) for o in done)  # type: ignore[attr-defined]

    task = asyncio.create_task(writer())
    received: list[int] = []
    version = str(start)
    reconnects = cutoffs = 0
    # 10,000 writes: ~100 s at load average 15 on 2 cores; the bound only stops a livelock
    async with asyncio.timeout(DEADLINE * 6):
        while not (task.done() and received and received[-1] >= max(written)):
            request = api.WatchApplicationsRequest(namespace=ns, resource_version=version)
            call = stub(channel).WatchApplications(request)
            try:
                for _ in range(rng.randrange(200, 1500)):
                    event = await call.read()
                    if event.type == metadata_pb2.BOOKMARK:
                        if task.done() and int(event.object.metadata.resource_version) >= max(
                            written
                        ):
                            break
                        continue
                    version = event.object.metadata.resource_version
                    received.append(int(version))
            except grpc.aio.AioRpcError as err:  # too slow for the writer: cut off, resume
                assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, err
                cutoffs += 1
            call.cancel()
            reconnects += 1
    await task
    assert len(written) == 10_000 and reconnects - cutoffs > 5
    assert received == sorted(written)


async def test_idle_watches_get_bookmarks(channel: grpc.aio.Channel, store: Store, ns: str) -> None:
    latest = await verbs.create(store, KIND, ns + "other", app(ns + "other", "x"))
    call = stub(channel).WatchApplications(api.WatchApplicationsRequest(namespace=ns))
    try:
        ((kind, _, version),) = await take(call, 1, bookmarks=True)
    finally:
        call.cancel()
    assert kind == metadata_pb2.BOOKMARK
    assert int(version) >= int(latest.metadata.resource_version)  # type: ignore[attr-defined]


async def test_selectors_filter_on_the_server(
    channel: grpc.aio.Channel, store: Store, ns: str
) -> None:
    await verbs.create(store, KIND, ns, app(ns, "front", tier="front"))
    await verbs.create(store, KIND, ns, app(ns, "back", tier="back"))
    request = api.WatchApplicationsRequest(namespace=ns, label_selector="tier=front")
    call = stub(channel).WatchApplications(request)
    try:
        first = await take(call, 1)
        await verbs.update(store, KIND, app(ns, "back", tier="front"))
        await verbs.update(store, KIND, app(ns, "front", tier="back"))
        rest = await take(call, 2)
    finally:
        call.cancel()
    assert [(t, n) for t, n, _ in first + rest] == [
        (metadata_pb2.ADDED, "front"),
        (metadata_pb2.ADDED, "back"),
        (metadata_pb2.DELETED, "front"),
    ]


async def test_a_slow_client_is_cut_off_and_others_go_on(
    channel: grpc.aio.Channel, api_target: str, store: Store, ns: str
) -> None:
    await verbs.create(store, KIND, ns, app(ns, "hot"))
    start = str(await store.revision())
    request = api.WatchApplicationsRequest(namespace=ns, resource_version=start)
    # a connection of its own: HTTP/2 flow control is shared by a connection's streams;
    # without BDP probing its window stays at 64 KiB, so the server soon cannot write to it
    slow_channel = grpc.aio.insecure_channel(api_target, options=[("grpc.http2.bdp_probe", 0)])
    slow = stub(slow_channel).WatchApplications(request)
    fast = stub(channel).WatchApplications(request)
    await slow.wait_for_connection()
    seen: list[int] = []

    async def read_fast() -> None:
        async for event in fast:
            if event.type != metadata_pb2.BOOKMARK:
                seen.append(int(event.object.metadata.resource_version))

    reader = asyncio.create_task(read_fast())
    written = []
    padding = "x" * 20_000  # 400 x 20 KB: past the slow client's window and queue (200)
    async with asyncio.timeout(DEADLINE * 2):
        for i in range(400):
            sent = app(ns, "hot", n=str(i))
            sent.metadata.annotations["pad"] = padding
            obj = await verbs.update(store, KIND, sent)
            written.append(int(obj.metadata.resource_version))  # type: ignore[attr-defined]
            while (
                len(seen) < len(written) - 50
            ):  # the fast client keeps up; the slow one never reads
                await asyncio.sleep(0.001)
        while len(seen) < len(written):
            await asyncio.sleep(0.01)
    reader.cancel()
    assert seen == written
    with pytest.raises(grpc.aio.AioRpcError) as cut:
        async with asyncio.timeout(DEADLINE):
            while (await slow.read()) is not grpc.aio.EOF:
                pass
    assert cut.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    await slow_channel.close()


async def test_a_version_older_than_the_cache_is_out_of_range(
    channel: grpc.aio.Channel, store: Store, ns: str
) -> None:
    await verbs.create(store, KIND, ns, app(ns, "a"))
    call = stub(channel).WatchApplications(api.WatchApplicationsRequest(namespace=ns))
    await take(call, 1)
    call.cancel()
    old = api.WatchApplicationsRequest(namespace=ns, resource_version="1")
    with pytest.raises(grpc.aio.AioRpcError) as too_old:
        async for _ in stub(channel).WatchApplications(old):
            pass
    assert too_old.value.code() == grpc.StatusCode.OUT_OF_RANGE


async def test_a_value_that_is_no_object_is_skipped_and_the_watch_goes_on(
    channel: grpc.aio.Channel, store: Store, ns: str
) -> None:
    """Something other than Krake wrote under the kind's prefix: the watch cache
    logs it and treats the key as absent, and every other object still flows."""
    junk = b"\x00 not a protobuf message"
    await store.put(KIND.key(ns, "junk-before"), junk)
    await verbs.create(store, KIND, ns, app(ns, "a"))
    call = stub(channel).WatchApplications(api.WatchApplicationsRequest(namespace=ns))
    try:
        assert [(t, n) for t, n, _ in await take(call, 1)] == [(metadata_pb2.ADDED, "a")]
        await store.put(KIND.key(ns, "junk-live"), junk)
        await verbs.create(store, KIND, ns, app(ns, "b"))
        await store.put(KIND.key(ns, "a"), junk)  # an object overwritten with junk is gone
        seen = await take(call, 2)
    finally:
        call.cancel()
        for name in ("junk-before", "junk-live", "a"):
            await store.delete(KIND.key(ns, name))
    assert [(t, n) for t, n, _ in seen] == [(metadata_pb2.ADDED, "b"), (metadata_pb2.DELETED, "a")]
