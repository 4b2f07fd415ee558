"""API benchmark: the gRPC API against the raw Store beneath it, side by side.

For each backend (a real etcd started here, and SQLite files):

1. create/s and get/s of Applications through the gRPC API at concurrency 1 and 32,
   against the Store used from this same process: `store.create` (the CAS create
   the API's create does) of the bytes the API stores, and `store.get`. The API
   server runs in this process as `krake-api` builds it (`server.build(store,
   "127.0.0.1:0", caches)`, every kind's watch cache started, so each create also
   passes through the Application cache); the client is a `grpc.aio` channel with
   the generated stubs. The raw side uses a store of its own (etcd: a second
   connection, keys outside /krake/; SQLite: a second file) so that its writes do
   not feed the API's watch caches. Two floors share the API's gRPC server:
   `echo` answers the same call with no work (what gRPC itself costs) and `floor`
   first makes the raw side's store call (what any gRPC API over this Store costs,
   before its own code). `--repeat` rounds of `--ops` ops per side, interleaved.
   Reported: the steady rate, concurrency / median latency, which leaves out the
   machine's stalls (bench/machine.py); the best round's wall-clock rate; this
   process's CPU time per op (client, server and store client together).
   Target: API create >= 0.5x store create on etcd.
2. Listing `--list-size` (10,000) Applications of one namespace: ListApplications
   paged with page_size 5,000 (the server's maximum: two pages), against
   `store.range` of the same keys paged the same way at one revision. Target <= 0.5 s.
3. Watch fan-out with the API server in a subprocess (`python -m krake_api`), so
   its memory and CPU are its own: `--watchers` WatchApplications streams of one
   namespace over `--channels` channels, each first reading its initial ADDED.
   RSS per idle watcher = (server RSS with them open and idle for 1 s - RSS
   before, after a warm-up) / watchers. Then a writer issues `--rate`
   UpdateApplication/s for `--seconds`, round-robin over `--objects` objects with
   at most one update in flight per object (a server that lags slows the writer:
   the achieved rate is printed), each stamped with a sequence number and the
   writer's clock just before the call is issued; latency = when a watcher's
   read() returns the event in this process minus that stamp (CLOCK_MONOTONIC,
   shared by processes). Every watcher must get every update, each object's in
   the order written (counted and checked). Rows:
   `api`; `store`: one `store.watch` in this process fed by `store.put` at the same
   rate (the storage's own latency, the floor under the cache's feed); `floor`: a
   bare grpc.aio server (this file, `--serve-floor`) that fans each update out
   pre-serialized to plain per-stream queues, no Krake code (the floor under any
   Python gRPC fan-out). Targets: p99 <= 50 ms, <= 20 KB per idle watcher.

    python bench/api.py [--ops 128] [--repeat 8] [--backends etcd,sqlite]
                        [--watchers 1000] [--channels 10] [--rate 100] [--seconds 3]
                        [--objects 10] [--parts throughput,list,watch] [--quick]

`--quick` (64 ops, 3 rounds, 0.3 s of updates) takes about 2 minutes on a quiet
2-core machine. Progress goes to stderr, the tables to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import pathlib
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import grpc
import grpc.aio
import machine
import psutil

from krake.core.v1 import metadata_pb2
from krake.kubernetes.v1 import kubernetes_pb2, kubernetes_service_pb2_grpc
from krake.kubernetes.v1 import kubernetes_service_pb2 as api
from krake_api import registry, server
from krake_api.resources import verbs
from krake_api.resources.pagination import MAX_PAGE_SIZE
from krake_api.storage.base import Change, Create, Store
from krake_api.storage.etcd import EtcdStore
from krake_api.storage.sqlite import SqliteStore
from krake_api.watch import streams
from krake_api.watch.cache import WatchCache
from krake_api.watch.streams import WatchCaches
from krake_testing.etcd import EtcdCluster
from krake_testing.examples import example

KIND = registry.KINDS["Application"]
SERVICE = "krake.kubernetes.v1.KubernetesService"
SEQ, SENT = "bench.krake.io/seq", "bench.krake.io/sent"
RAW = "/bench/raw"  # raw-side keys: outside /krake/, so no watch cache sees them
Op = Callable[[int], Awaitable[object]]


@dataclass
class Best:
    """Several interleaved rounds of one side: the best round's wall-clock rate and
    CPU per op, and every op's latency. `steady` = concurrency / median latency: the
    rate with the machine's stalls left out (see bench/machine.py), since one stall
    of 100-300 ms can halve a round's wall-clock rate but moves the median little."""

    concurrency: int = 1
    rate: float = 0.0
    cpu_us: float = float("inf")
    seconds: float = float("inf")
    latencies: list[float] = field(default_factory=list)

    async def measure(self, run: Callable[[], Awaitable[int]]) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        count = await run()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        self.rate = max(self.rate, count / wall)
        self.cpu_us = min(self.cpu_us, cpu / count * 1e6)
        self.seconds = min(self.seconds, wall)

    @property
    def steady(self) -> float:
        return self.concurrency / statistics.median(self.latencies)


def rate(op: Op, ops: int, concurrency: int, best: Best) -> Callable[[], Awaitable[int]]:
    async def worker(offset: int) -> None:
        for i in range(offset, ops, concurrency):
            started = time.perf_counter()
            await op(i)
            best.latencies.append(time.perf_counter() - started)

    async def run() -> int:
        await asyncio.gather(*(worker(w) for w in range(concurrency)))
        return ops

    return run


def stub(channel: grpc.aio.Channel) -> Any:
    return kubernetes_service_pb2_grpc.KubernetesServiceStub(channel)


# -- the API server in this process ------------------------------------------------


FLOOR_METHODS: Final = ("CreateApplication", "GetApplication")


def floor_handlers(raw: Store) -> list[grpc.GenericRpcHandler]:
    """Create and Get without Krake code, on the API's own gRPC server. `bench.Echo`
    answers at once: what gRPC itself costs. `bench.Floor` first does the raw side's
    store call (create of the request's bytes, or get of a raw key): gRPC plus the
    store, the least any gRPC API over this Store could cost."""
    stored: Any = example(KIND, "echo", "echo")
    stored.metadata.uid, stored.metadata.resource_version = "0" * 36, "12345"

    async def echo_create(request: Any, context: grpc.aio.ServicerContext) -> Any:
        return request.application

    async def echo_get(request: Any, context: grpc.aio.ServicerContext) -> Any:
        return stored

    async def floor_create(request: Any, context: grpc.aio.ServicerContext) -> Any:
        key = f"{RAW}/floor/{request.namespace}/{request.application.metadata.name}"
        await raw.create(key, request.application.SerializeToString())
        return request.application

    async def floor_get(request: Any, context: grpc.aio.ServicerContext) -> Any:
        await raw.get(f"{RAW}/floor/{request.namespace}/{request.name}")
        return stored

    def unary(behavior: Any, request: Any) -> grpc.RpcMethodHandler:
        return grpc.unary_unary_rpc_method_handler(
            behavior,
            request_deserializer=request.FromString,
            response_serializer=kubernetes_pb2.Application.SerializeToString,
        )

    requests = (api.CreateApplicationRequest, api.GetApplicationRequest)
    return [
        grpc.method_handlers_generic_handler(
            service,
            {
                name: unary(behavior, request)
                for name, behavior, request in zip(FLOOR_METHODS, behaviors, requests, strict=True)
            },
        )
        for service, behaviors in (
            ("bench.Echo", (echo_create, echo_get)),
            ("bench.Floor", (floor_create, floor_get)),
        )
    ]


def floor_stub(channel: grpc.aio.Channel, service: str) -> Any:
    """Callables named as the generated stub's, to `service`'s methods."""
    requests = (api.CreateApplicationRequest, api.GetApplicationRequest)
    return argparse.Namespace(
        **{
            name: channel.unary_unary(
                f"/{service}/{name}",
                request_serializer=request.SerializeToString,
                response_deserializer=kubernetes_pb2.Application.FromString,
            )
            for name, request in zip(FLOOR_METHODS, requests, strict=True)
        }
    )


@dataclass
class Served:
    """A client of the in-process server, its echo and floor twins and the
    Application cache."""

    client: Any
    echo: Any
    floor: Any
    cache: WatchCache
    written: int = 0  # highest resource_version the API returned

    async def settle(self) -> None:
        """Wait until the watch cache has applied every API write (it is idle)."""
        while self.cache.revision < self.written:
            await asyncio.sleep(0.005)


@contextlib.asynccontextmanager
async def api_in_process(store: Store, raw: Store) -> AsyncIterator[Served]:
    caches = WatchCaches(store)
    grpc_server, _, port = server.build(store, "127.0.0.1:0", caches)
    grpc_server.add_generic_rpc_handlers(floor_handlers(raw))
    for kind in registry.KINDS.values():
        caches.cache(kind)  # as krake-api does at start-up
    await grpc_server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        cache = caches.cache(KIND)
        await cache.ready.wait()
        yield Served(
            stub(channel),
            floor_stub(channel, "bench.Echo"),
            floor_stub(channel, "bench.Floor"),
            cache,
        )
    finally:
        await channel.close()
        await grpc_server.stop(None)
        await caches.close()


# -- 1. create and get -------------------------------------------------------------


@dataclass
class Side:
    """create(i) makes a new object; get(i) reads one made before."""

    name: str
    create: Op
    get: Op


def api_side(name: str, client: Any, served: Served, namespace: str) -> Side:
    template = example(KIND, "x", namespace)
    fresh, names = itertools.count(), []

    async def create(_: int) -> None:
        request = api.CreateApplicationRequest(namespace=namespace, application=template)
        request.application.metadata.name = name = f"o{next(fresh)}"
        made = await client.CreateApplication(request)
        names.append(name)
        served.written = max(served.written, int(made.metadata.resource_version or 0))

    async def get(i: int) -> None:
        name = names[i % len(names)]
        await client.GetApplication(api.GetApplicationRequest(namespace=namespace, name=name))

    return Side(name, create, get)


async def store_side(store: Store, namespace: str) -> Side:
    """The raw writes: the value is what the API stores for such an object."""
    made: Any = await verbs.create(store, KIND, namespace, example(KIND, "template", namespace))
    entry = await store.get(KIND.key(namespace, made.metadata.name))
    assert entry is not None
    fresh, keys = itertools.count(), []

    async def create(_: int) -> None:
        key = RAW + KIND.key(namespace, f"o{next(fresh)}")
        await store.create(key, entry.value)
        keys.append(key)

    async def get(i: int) -> None:
        await store.get(keys[i % len(keys)])

    return Side("store", create, get)


Row = tuple[str, str, int, dict[str, Best]]


async def throughput(served: Served, raw: Store, backend: str, args: Any) -> list[Row]:
    """Every side's op in `args.repeat` rounds of `args.ops` ops, interleaved."""
    rows: list[Row] = []
    for concurrency in (1, 32):
        sides = [
            api_side("api", served.client, served, f"api-c{concurrency}"),
            await store_side(raw, f"raw-c{concurrency}"),
            api_side("echo", served.echo, served, f"echo-c{concurrency}"),
            api_side("floor", served.floor, served, f"floor-c{concurrency}"),
        ]
        for op in ("create", "get"):
            best = {side.name: Best(concurrency) for side in sides}
            for _ in range(args.repeat):
                for side in sides:
                    await served.settle()
                    cell = best[side.name]
                    await cell.measure(rate(getattr(side, op), args.ops, concurrency, cell))
            rows.append((backend, f"{op}/s", concurrency, best))
    return rows


# -- 2. list -----------------------------------------------------------------------


async def seed(store: Store, namespace: str, count: int) -> int:
    """`count` Applications in `namespace`, stored as the API stores them (one made
    by the create verb, copies renamed), 100 per transaction; the last revision."""
    made: Any = await verbs.create(store, KIND, namespace, example(KIND, "seed", namespace))
    entry = await store.get(KIND.key(namespace, made.metadata.name))
    assert entry is not None
    stored: Any = KIND.message.FromString(entry.value)
    revision = 0
    for start in range(0, count - 1, 100):
        creates = []
        for i in range(start, min(count - 1, start + 100)):
            stored.metadata.name, stored.metadata.uid = f"item{i:05}", str(uuid.uuid4())
            key = KIND.key(namespace, stored.metadata.name)
            creates.append(Create(key, stored.SerializeToString()))
        revision = await store.txn(creates)
    return revision


async def listing(served: Served, store: Store, backend: str, args: Any) -> list[Row]:
    namespace = "list"
    served.written = await seed(store, namespace, args.list_size)

    async def through_api() -> int:
        items, token = 0, ""
        while True:
            request = api.ListApplicationsRequest(
                namespace=namespace, page_size=args.page_size, page_token=token
            )
            page = await served.client.ListApplications(request)
            items, token = items + len(page.items), page.next_page_token
            if not token:
                break
        assert items == args.list_size, items
        return items

    async def through_store() -> int:
        items, after, revision = 0, "", 0
        while True:
            page = await store.range(
                KIND.prefix(namespace), start_after=after, limit=args.page_size, revision=revision
            )
            items, revision = items + len(page.entries), page.revision
            if not page.more:
                break
            after = page.entries[-1].key
        assert items == args.list_size, items
        return items

    best = {"api": Best(), "store": Best()}
    for _ in range(args.list_repeat):
        await served.settle()
        await best["api"].measure(through_api)
        await best["store"].measure(through_store)
    return [(backend, f"list {args.list_size:,}", 1, best)]


# -- 3. watch fan-out --------------------------------------------------------------


@dataclass
class Fanout:
    """What one fan-out run measured."""

    side: str
    watchers: int
    updates: int
    expected: int = 0  # events all watchers together must receive
    write_rate: float = 0.0
    latencies: list[float] = field(default_factory=list)
    delivered: int = 0
    failures: list[str] = field(default_factory=list)
    rss_per_watcher: float | None = None
    drain_seconds: float = 0.0
    server_cpu_us: float | None = None  # per delivered event
    client_cpu_us: float | None = None

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * p))] if ordered else float("nan")

    @property
    def complete(self) -> bool:
        return self.delivered == self.expected and not self.failures


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def subprocess_server(
    command: Sequence[str], folder: str
) -> AsyncIterator[tuple[str, psutil.Process]]:
    """Run `command` + ["--grpc-address", target]; yield the target and process once
    it printed its first line (krake-api's "listening" line)."""
    target = f"127.0.0.1:{free_port()}"
    env = {**os.environ, "KRAKE_HTTP_ADDRESS": "127.0.0.1:0"}
    log_path = pathlib.Path(folder) / f"server-{target.rsplit(':', 1)[1]}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*command, "--grpc-address", target], stdout=subprocess.PIPE, stderr=log, env=env
        )
    try:
        assert process.stdout is not None
        if not process.stdout.readline():
            raise RuntimeError(f"{command} did not start: {log_path.read_text()[-2000:]}")
        yield target, psutil.Process(process.pid)
    except BaseException:
        lines = log_path.read_text().splitlines()
        notable = [line for line in lines if '"level": "info"' not in line]
        print(f"{command[-3:]} log:", *notable[-30:], *lines[-3:], sep="\n", file=sys.stderr)
        raise
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def rss(process: psutil.Process) -> int:
    return int(statistics.median(process.memory_info().rss for _ in range(5)))


async def open_watchers(
    stubs: list[Any], namespace: str, count: int, objects: int, spread: bool = False
) -> list[Any]:
    """`count` watches of `namespace`, each past the initial ADDED of its `objects`
    objects (so registered), opened 100 at a time. `spread`: watcher i selects only
    object hot{i % objects} (a field selector on metadata.name), so it reads one."""

    def request(i: int) -> Any:
        selector = f"metadata.name=hot{i % objects}" if spread else ""
        return api.WatchApplicationsRequest(namespace=namespace, field_selector=selector)

    calls: list[Any] = []
    for start in range(0, count, 100):
        batch = [
            stubs[i % len(stubs)].WatchApplications(request(i))
            for i in range(start, min(count, start + 100))
        ]
        await asyncio.gather(*(added(call, 1 if spread else objects) for call in batch))
        calls += batch
    return calls


async def added(call: Any, count: int) -> None:
    """Read `count` initial ADDED (a slow server may send a BOOKMARK between)."""
    for _ in range(count):
        while (event := await call.read()).type == metadata_pb2.BOOKMARK:
            pass
        assert event.type == metadata_pb2.ADDED, event


async def follow(call: Any, count: int, objects: int, result: Fanout) -> None:
    """Read `count` updates of `objects` objects, each object's in the order written,
    recording each one's latency."""
    seen, following = 0, list(range(objects))  # the sequence number due per object
    try:
        while seen < count:
            event = await call.read()
            if event is grpc.aio.EOF:
                result.failures.append(f"stream ended after {seen} events")
                return
            if event.type == metadata_pb2.BOOKMARK:
                continue
            arrived = time.perf_counter()
            annotations = event.object.metadata.annotations
            sequence = int(annotations[SEQ])
            if event.type != metadata_pb2.UPDATED or following[sequence % objects] != sequence:
                result.failures.append(f"update {sequence} arrived out of order")
                return
            following[sequence % objects] += objects
            result.latencies.append(arrived - float(annotations[SENT]))
            seen += 1
    except grpc.aio.AioRpcError as err:
        result.failures.append(f"{err.code().name} after {seen} events")
    finally:
        result.delivered += seen


async def paced(
    count: int, per_second: float, lanes: int, write: Callable[[int], Awaitable[None]]
) -> float:
    """write(i) for i < count, each at start + i / per_second or, when late, as soon
    as write(i - lanes) returned; the achieved rate."""
    start = time.perf_counter()

    async def lane(first: int) -> None:
        for i in range(first, count, lanes):
            delay = start + i / per_second - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            await write(i)

    await asyncio.gather(*(lane(first) for first in range(lanes)))
    return count / (time.perf_counter() - start)


def hot(index: int, namespace: str) -> Any:
    return example(KIND, f"hot{index}", namespace)


async def fanout(
    side: str, target: str, process: psutil.Process, args: Any, spread: bool = False
) -> Fanout:
    """`args.watchers` watchers and one paced writer. Broadcast (default): every
    watcher sees every update of `args.objects` objects. `spread`: `--spread-objects`
    objects, watcher i selects object i % objects only, so each update goes to
    watchers / objects watchers and the cache filters every event for all of them."""
    objects = args.spread_objects if spread else args.objects
    updates = int(args.rate * args.seconds)
    result = Fanout(f"{side}{'/1obj' if spread else ''}", args.watchers, updates)
    result.expected = (
        sum(len(range(i % objects, updates, objects)) for i in range(args.watchers))
        if spread
        else args.watchers * updates
    )
    namespace = "spread" if spread else "fan"  # the runs may share one store
    channels = [grpc.aio.insecure_channel(target) for _ in range(args.channels)]
    stubs = [stub(channel) for channel in channels]

    async def create(index: int) -> None:
        request = api.CreateApplicationRequest(application=hot(index, namespace))
        await stubs[0].CreateApplication(request)

    await create(0)
    for call in await open_watchers(stubs, namespace, 20, 1):  # warm-up
        call.cancel()
    if spread:
        for index in range(1, objects):
            await create(index)
    await asyncio.sleep(1.0)
    before = rss(process)
    calls = await open_watchers(stubs, namespace, args.watchers, objects if spread else 1, spread)
    await asyncio.sleep(1.0)
    result.rss_per_watcher = (rss(process) - before) / args.watchers
    if not spread:
        for index in range(1, objects):
            await create(index)
        await asyncio.gather(*(added(call, objects - 1) for call in calls))

    async def update(i: int) -> None:
        obj = hot(i % objects, namespace)
        obj.metadata.annotations[SEQ] = str(i)
        obj.metadata.annotations[SENT] = repr(time.perf_counter())
        await stubs[0].UpdateApplication(api.UpdateApplicationRequest(application=obj))

    def due(i: int) -> int:
        return len(range(i % objects, updates, objects)) if spread else updates

    readers = [
        asyncio.create_task(follow(call, due(i), objects, result)) for i, call in enumerate(calls)
    ]
    server_cpu, own_cpu = process.cpu_times(), time.process_time()
    result.write_rate = await paced(updates, args.rate, objects, update)
    written = time.perf_counter()
    _, pending = await asyncio.wait(readers, timeout=args.drain_timeout)
    result.drain_seconds = time.perf_counter() - written
    after = process.cpu_times()
    events = max(result.delivered, 1)
    spent = after.user + after.system - server_cpu.user - server_cpu.system
    result.server_cpu_us = spent / events * 1e6
    result.client_cpu_us = (time.process_time() - own_cpu) / events * 1e6
    if pending:
        result.failures.append(f"{len(pending)} watchers unfinished {args.drain_timeout:g} s after")
    for task in pending:
        task.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    for call in calls:
        call.cancel()
    for channel in channels:
        await channel.close()
    return result


async def store_fanout(store: Store, args: Any) -> Fanout:
    """One store.watch fed by store.put at the same rate: the storage's latency."""
    prefix = RAW + "/watch/"
    updates = int(args.rate * args.seconds)
    result = Fanout("store", 1, updates, expected=updates)
    changes = store.watch(prefix, after=await store.revision())

    async def follow_store() -> None:
        async for change in changes:
            if isinstance(change, Change):
                result.latencies.append(time.perf_counter() - float(change.value))
                result.delivered += 1
                if result.delivered == result.updates:
                    return

    async def put(i: int) -> None:
        await store.put(f"{prefix}hot{i % args.objects}", repr(time.perf_counter()).encode())

    reader = asyncio.create_task(follow_store())
    result.write_rate = await paced(result.updates, args.rate, args.objects, put)
    await asyncio.wait_for(reader, args.drain_timeout)
    await changes.aclose()
    return result


async def serve_floor(address: str) -> None:
    """The least a Python gRPC server can do per watcher: one pre-serialized message
    per update put on a plain asyncio.Queue per stream and written (no Krake code)."""
    queues: dict[asyncio.Queue[bytes], str] = {}  # stream -> the name it selects, or ""
    objects: dict[str, bytes] = {}  # name -> its initial ADDED event

    def send(name: str, encoded: bytes) -> None:
        for queue, selected in queues.items():
            if selected in ("", name):
                queue.put_nowait(encoded)

    async def watch(request: bytes, context: grpc.aio.ServicerContext) -> None:
        selector = api.WatchApplicationsRequest.FromString(request).field_selector
        selected = selector.removeprefix("metadata.name=")
        queue: asyncio.Queue[bytes] = asyncio.Queue()
        queues[queue] = selected
        try:
            for name, event in list(objects.items()):
                if selected in ("", name):
                    await context.write(event)
            while True:
                await context.write(await queue.get())
        finally:
            del queues[queue]

    async def update(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        obj = api.UpdateApplicationRequest.FromString(request).application
        event = api.WatchApplicationsResponse(type=metadata_pb2.UPDATED, object=obj)
        send(obj.metadata.name, event.SerializeToString())
        return obj.SerializeToString()

    async def create(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        obj = api.CreateApplicationRequest.FromString(request).application
        event = api.WatchApplicationsResponse(type=metadata_pb2.ADDED, object=obj)
        objects[obj.metadata.name] = event.SerializeToString()
        send(obj.metadata.name, objects[obj.metadata.name])
        return obj.SerializeToString()

    floor = grpc.aio.server()
    floor.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(
                SERVICE,
                {
                    "WatchApplications": grpc.unary_stream_rpc_method_handler(watch),
                    "UpdateApplication": grpc.unary_unary_rpc_method_handler(update),
                    "CreateApplication": grpc.unary_unary_rpc_method_handler(create),
                },
            )
        ]
    )
    floor.add_insecure_port(address)
    await floor.start()
    print(f"floor: gRPC on {address}", flush=True)
    await floor.wait_for_termination()


# -- 4. the watch cache alone -------------------------------------------------------


@dataclass
class Consumers:
    """What one in-process fan-out measured."""

    side: str
    subscribers: int
    changes: int
    cpu_us: float = 0.0  # this process, per delivered event
    heap: float = 0.0  # Python heap per idle subscriber, bytes


class Feeds:
    """Tasks draining async iterators and counting what they delivered."""

    def __init__(self) -> None:
        self.delivered, self.wanted = 0, 0
        self.progressed = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []

    async def start(self, feeds: list[AsyncIterator[Any]]) -> None:
        """Drain every feed; return once each delivered its initial event."""
        self.wanted = len(feeds)
        self.tasks = [asyncio.create_task(self._drain(feed)) for feed in feeds]
        await self.progressed.wait()

    async def run(self, changes: int, write: Callable[[int], Awaitable[Any]]) -> float:
        """Write `changes` changes, each once every feed has the previous one; this
        process's CPU microseconds per delivered event."""
        cpu = time.process_time()
        for i in range(changes):
            self.progressed.clear()
            self.wanted = len(self.tasks) * (i + 2)
            await write(i)
            await self.progressed.wait()
        spent = time.process_time() - cpu
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        return spent / (len(self.tasks) * changes) * 1e6

    async def _drain(self, feed: AsyncIterator[Any]) -> None:
        async for _ in feed:
            self.delivered += 1
            if self.delivered >= self.wanted:
                self.progressed.set()


async def cache_fanout(store: Store, args: Any) -> list[Consumers]:
    """The API's per-stream work without gRPC (events() and response(), as the
    Watch handler runs them) against `store.watch` per subscriber."""
    namespace, count, changes = "cache", args.watchers, args.changes
    key = KIND.key(namespace, "hot")
    await verbs.create(store, KIND, namespace, example(KIND, "hot", namespace))
    entry = await store.get(key)
    assert entry is not None
    caches = WatchCaches(store)
    await caches.cache(KIND).ready.wait()
    response_class = api.WatchApplicationsResponse

    async def stream() -> AsyncIterator[Any]:
        matches = streams.selection(KIND, namespace, "", "")
        async for event in streams.events(caches, KIND, matches, None):
            yield streams.response(response_class, event)

    async def raw_stream(after: int) -> AsyncIterator[Any]:
        async for change in store.watch(key, after=after):
            if isinstance(change, Change):
                yield change

    async def write(i: int) -> None:
        await store.put(key, entry.value)

    results = []
    for side in ("cache", "store"):
        last = await store.get(key)
        assert last is not None  # the raw side replays the last change
        feeds = [
            stream() if side == "cache" else raw_stream(last.mod_revision - 1) for _ in range(count)
        ]
        run, running = Consumers(side, count, changes), Feeds()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        await running.start(feeds)
        await asyncio.sleep(0.2)
        run.heap = (tracemalloc.get_traced_memory()[0] - before) / count
        tracemalloc.stop()
        run.cpu_us = await running.run(changes, write)
        results.append(run)
    await caches.close()
    return results


# -- running and printing ----------------------------------------------------------


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    watches: list[tuple[str, list[Fanout]]] = field(default_factory=list)
    caches: list[tuple[str, list[Consumers]]] = field(default_factory=list)


async def bench_backend(
    backend: str, store: Store, raw: Store, storage_url: str, folder: str, args: Any
) -> Report:
    """`store` serves the API in this process; `raw` is the raw side's own store;
    `storage_url` is what the subprocess server opens."""
    report, parts = Report(), set(args.parts.split(","))
    if parts & {"throughput", "list"}:
        async with api_in_process(store, raw) as served:
            if "throughput" in parts:
                report.rows += await throughput(served, raw, backend, args)
                progress(f"{backend}: create and get")
            if "list" in parts:
                report.rows += await listing(served, store, backend, args)
                progress(f"{backend}: list")
    if "cache" in parts:
        report.caches.append((backend, await cache_fanout(raw, args)))
        progress(f"{backend}: watch cache in-process")
    if "watch" in parts:
        runs = [await store_fanout(raw, args)]
        command = [sys.executable, "-m", "krake_api", "--storage", storage_url]
        for spread in (False, True):
            async with subprocess_server(command, args.log_dir or folder) as (target, process):
                runs.insert(int(spread), await fanout("api", target, process, args, spread))
            progress(f"{backend}: watch fan-out{' (spread)' if spread else ''}")
        if args.floor:
            args.floor = False  # once: it does not depend on the backend
            floor = [sys.executable, __file__, "--serve-floor"]
            for spread in (False, True):
                async with subprocess_server(floor, args.log_dir or folder) as (target, process):
                    runs.append(await fanout("floor", target, process, args, spread))
            progress("gRPC floor: watch fan-out")
        report.watches.append((backend, runs))
    return report


def progress(done: str, started: float = time.perf_counter()) -> None:
    print(f"[{time.perf_counter() - started:5.0f} s] {done}", file=sys.stderr, flush=True)


async def bench_etcd(args: Any) -> Report:
    with EtcdCluster(1) as cluster, tempfile.TemporaryDirectory() as folder:
        store = await EtcdStore.connect(cluster.endpoints)
        raw = await EtcdStore.connect(cluster.endpoints)
        try:
            url = f"etcd://{cluster.endpoints[0]}"
            return await bench_backend("etcd", store, raw, url, folder, args)
        finally:
            await store.close()
            await raw.close()


async def bench_sqlite(args: Any) -> Report:
    with tempfile.TemporaryDirectory() as folder:
        store = await SqliteStore.open(str(pathlib.Path(folder) / "api.db"))
        raw = await SqliteStore.open(str(pathlib.Path(folder) / "raw.db"))
        try:  # one process owns an SQLite file: the subprocess server gets its own
            url = f"sqlite:///{folder}/served.db"
            return await bench_backend("sqlite", store, raw, url, folder, args)
        finally:
            await store.close()
            await raw.close()


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def print_rows(rows: list[Row]) -> None:
    print(
        "create/get: steady = concurrency / median latency (stalls left out); wall = the"
        " best round's ops / seconds. echo = the same call answered by gRPC alone; floor ="
        " gRPC plus the raw store call, no Krake code. CPU: this process, best round."
    )
    print(
        f"{'backend':8} {'measure':9} {'conc':>4} {'api':>7} {'store':>7} {'ratio':>5}"
        f" {'echo':>7} {'floor':>7} {'api/fl':>6} | {'wall api':>8} {'store':>7} {'ratio':>5}"
        f" {'floor':>7} | {'cpu us api':>10} {'store':>6} {'floor':>6}  target"
    )
    for backend, name, concurrency, best in rows:
        mine, raw = best["api"], best["store"]
        if name.startswith("list"):
            print(
                f"{backend:8} {name:9} {'':>4} {mine.seconds:6.3f}s {raw.seconds:6.3f}s"
                f" {mine.seconds / raw.seconds:5.1f}  api <= 0.5 s: {verdict(mine.seconds <= 0.5)}"
            )
            continue
        echo, floor = best["echo"], best["floor"]
        target = ""
        if name == "create/s" and backend == "etcd":
            target = f"ratio >= 0.5: {verdict(mine.steady >= 0.5 * raw.steady)}"
        print(
            f"{backend:8} {name:9} {concurrency:4} {mine.steady:7,.0f} {raw.steady:7,.0f}"
            f" {mine.steady / raw.steady:5.2f} {echo.steady:7,.0f} {floor.steady:7,.0f}"
            f" {mine.steady / floor.steady:6.2f} | {mine.rate:8,.0f} {raw.rate:7,.0f}"
            f" {mine.rate / raw.rate:5.2f} {floor.rate:7,.0f} | {mine.cpu_us:10,.0f}"
            f" {raw.cpu_us:6,.0f} {floor.cpu_us:6,.0f}  {target}"
        )


def optional(value: float | None, width: int, scale: float = 1.0, digits: int = 0) -> str:
    return f"{'-':>{width}}" if value is None else f"{value * scale:{width}.{digits}f}"


def print_watches(watches: list[tuple[str, list[Fanout]]], args: Any) -> None:
    print(
        f"\nwatch fan-out: {args.watchers} watchers over {args.channels} channels, one writer at"
        f" {args.rate:g} updates/s for {args.seconds:g} s. Broadcast rows: every watcher sees"
        f" every update of {args.objects} objects. /1obj rows: {args.spread_objects} objects,"
        " each watcher selects one (field selector), so an update reaches"
        f" {args.watchers / args.spread_objects:g} watchers. Latency: from just before the"
        " update is issued to the watcher's read() returning it, all watchers' events."
    )
    print(
        f"{'backend':8} {'side':9} {'watchers':>8} {'writes/s':>8} {'delivered':>10}"
        f" {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'drain s':>7} {'srv us/ev':>9}"
        f" {'cli us/ev':>9} {'KB/idle':>7}"
    )
    for backend, runs in watches:
        for run in runs:
            print(
                f"{backend:8} {run.side:9} {run.watchers:8} {run.write_rate:8.1f}"
                f" {run.delivered:>10,} {run.percentile(0.5) * 1e3:8.1f}"
                f" {run.percentile(0.99) * 1e3:8.1f} {run.percentile(1.0) * 1e3:8.1f}"
                f" {run.drain_seconds:7.2f} {optional(run.server_cpu_us, 9)}"
                f" {optional(run.client_cpu_us, 9)}"
                f" {optional(run.rss_per_watcher, 7, 1 / 1024, 1)}"
            )
            if not run.complete:
                missing = f"delivered {run.delivered:,} of {run.expected:,}"
                print(f"{'':18} {missing}: {run.failures[:3]}")
        for mine in (run for run in runs if run.side.startswith("api")):
            p99, kb = mine.percentile(0.99) * 1e3, (mine.rss_per_watcher or 0) / 1024
            print(
                f"{backend:8} {mine.side} targets: every event delivered:"
                f" {verdict(mine.complete)}; p99 <= 50 ms: {verdict(p99 <= 50)};"
                f" <= 20 KB per idle watcher: {verdict(kb <= 20)}"
            )
        for run in runs:
            if run.server_cpu_us and run.watchers > 1:
                ceiling = 1e6 / run.server_cpu_us / (run.expected / max(run.updates, 1))
                print(
                    f"{'':9}{run.side}: one server core delivers at most {ceiling:.0f}"
                    f" updates/s to its watchers ({run.server_cpu_us:.0f} us per event)"
                )


def print_caches(caches: list[tuple[str, list[Consumers]]]) -> None:
    backend, runs = caches[0]
    print(
        f"\nwatch cache in this process, no gRPC: {runs[0].subscribers} subscribers of one"
        f" object, {runs[0].changes} puts, each once all have the previous one. cache ="
        " events() + response() per subscriber, as the Watch handler runs them; store ="
        " one store.watch per subscriber."
    )
    print(f"{'backend':8} {'side':5} {'us/event':>9} {'heap B/idle':>11}")
    for backend, runs in caches:
        for run in runs:
            print(f"{backend:8} {run.side:5} {run.cpu_us:9.1f} {run.heap:11,.0f}")


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ops", type=int, default=128, help="creates or gets per round")
    parser.add_argument("--repeat", type=int, default=8, help="rounds per side, interleaved")
    parser.add_argument("--backends", default="etcd,sqlite")
    parser.add_argument("--parts", default="throughput,list,cache,watch")
    parser.add_argument("--changes", type=int, default=200, help="puts in the cache part")
    parser.add_argument("--list-size", type=int, default=10_000)
    parser.add_argument("--page-size", type=int, default=MAX_PAGE_SIZE)
    parser.add_argument("--list-repeat", type=int, default=5, help="a list is quick: best of 5")
    parser.add_argument("--watchers", type=int, default=1000)
    parser.add_argument("--channels", type=int, default=10)
    parser.add_argument("--rate", type=float, default=100.0, help="updates/s while watched")
    parser.add_argument(
        "--objects", type=int, default=10, help="updated round-robin; at most one update each"
    )
    parser.add_argument(
        "--spread-objects",
        type=int,
        default=100,
        help="objects of the spread run, where each watcher selects one of them",
    )
    parser.add_argument("--seconds", type=float, default=3.0, help="of updates while watched")
    parser.add_argument("--drain-timeout", type=float, default=300.0)
    parser.add_argument("--no-floor", dest="floor", action="store_false")
    parser.add_argument("--log-dir", help="keep the subprocess servers' logs here")
    parser.add_argument("--quick", action="store_true", help="small numbers: about 2 minutes")
    args = parser.parse_args(argv)
    if args.quick:
        args.ops, args.repeat, args.seconds, args.changes = 64, 3, 0.3, 50
    return args


async def main(argv: list[str]) -> None:
    args = parse(argv)
    runners = {"etcd": bench_etcd, "sqlite": bench_sqlite}
    print(f"before: {machine.describe()}")
    reports = [await runners[backend](args) for backend in args.backends.split(",")]
    print(f"after: {machine.describe()}")
    rows = [row for report in reports for row in report.rows]
    watches = [watch for report in reports for watch in report.watches]
    caches = [cache for report in reports for cache in report.caches]
    if rows:
        print_rows(rows)
    if caches:
        print_caches(caches)
    if watches:
        print_watches(watches, args)


if __name__ == "__main__":
    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(30))
    if sys.argv[1:2] == ["--serve-floor"]:  # the floor server, run by part 3
        asyncio.run(serve_floor(sys.argv[sys.argv.index("--grpc-address") + 1]))
    else:
        asyncio.run(main(sys.argv[1:]))
