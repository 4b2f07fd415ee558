"""Controller runtime benchmark, each number beside its raw baseline from the same run.

Against a real `krake-api` process (its own CPU, as in production) on sqlite or a
real etcd started here:
- informer start-up for N objects (default 10,000): list all pages, build the
  cache and an owner index, until `synced`; baseline: the same paged List through
  the typed client, results thrown away.
- events an informer absorbs per second: 32 concurrent writers update objects
  while an informer follows; measured from the first write to the informer holding
  the last written resource_version; baseline: a bare Watch stream counting the
  same number of events.
- the garbage collector deleting a 1,000-object tree (root, 9 children, 990
  grandchildren) after a background delete of the root; baseline: the same 1,000
  deletes issued directly at concurrency 32 (the floor any collector has).

    python bench/controllers.py [--objects 10000] [--events 3000] [--backend sqlite|etcd]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

from krake.core.v1 import metadata_pb2
from krake_api import registry
from krake_controllers import garbage_collector
from krake_controllers.garbage_collector.graph import OWNER_INDEX, owner_index
from krake_controllers.runtime.client import Client, connect
from krake_controllers.runtime.informer import Informer
from krake_testing.api import ApiProcess
from krake_testing.etcd import EtcdCluster
from krake_testing.examples import example

APP = registry.KINDS["Application"]


async def gather_limited(
    jobs: Iterable[Callable[[], Awaitable[Any]]], limit: int = 32
) -> list[Any]:
    gate = asyncio.Semaphore(limit)

    async def run(job: Callable[[], Awaitable[Any]]) -> Any:
        async with gate:
            return await job()

    return await asyncio.gather(*(run(job) for job in jobs))


def create(
    client: Client, kind: str, ns: str, name: str, owner: Any = None
) -> Callable[[], Awaitable[Any]]:
    obj: Any = example(registry.KINDS[kind], name=name, namespace=ns)
    if owner is not None:
        obj.metadata.owners.add(
            api=owner.api, kind=owner.kind, name=owner.metadata.name, uid=owner.metadata.uid
        )
    return lambda: client.kind(registry.KINDS[kind]).create(obj)


async def timed(work: Awaitable[Any]) -> float:
    started = time.perf_counter()
    await work
    return time.perf_counter() - started


async def startup(client: Client, count: int) -> tuple[float, float]:
    apps = client.kind(APP)
    await gather_limited(create(client, "Application", "load", f"app{i}") for i in range(count))
    raw = await timed(apps.list("load"))
    informer = Informer(apps, namespace="load", indexers={OWNER_INDEX: owner_index})
    task = asyncio.create_task(informer.run())
    cooked = await timed(informer.synced.wait())
    task.cancel()
    assert len(informer.cache) == count
    return cooked, raw


async def absorb(client: Client, count: int) -> tuple[float, float]:
    apps = client.kind(APP)
    objects = (await apps.list("load")).items[:500]

    def updates(round_: int) -> list[Callable[[], Awaitable[Any]]]:
        jobs = []
        for i in range(count):
            obj = objects[i % len(objects)]
            fresh: Any = type(obj)()
            fresh.CopyFrom(obj)
            fresh.metadata.resource_version = ""
            fresh.metadata.labels["round"] = f"r{round_}-{i}"
            jobs.append(lambda o=fresh: apps.update(o))
        return jobs

    informer = Informer(apps, namespace="load", indexers={OWNER_INDEX: owner_index})
    task = asyncio.create_task(informer.run())
    await informer.synced.wait()
    started = time.perf_counter()
    written = await gather_limited(updates(1))
    last = max(int(o.metadata.resource_version) for o in written)
    while int(informer.resource_version or 0) < last:
        await asyncio.sleep(0.001)
    cooked = count / (time.perf_counter() - started)
    task.cancel()

    seen = 0
    since = str(last)
    stream = apps.watch("load", resource_version=since)
    started = time.perf_counter()
    writing = asyncio.create_task(gather_limited(updates(2)))
    async for event in stream:
        if event.type != metadata_pb2.BOOKMARK:
            seen += 1
            if seen == count:
                break
    raw = count / (time.perf_counter() - started)
    stream.cancel()
    await writing
    return cooked, raw


async def tree(client: Client, ns: str) -> tuple[Any, list[tuple[str, str]]]:
    root = await create(client, "Cluster", ns, "root")()
    children = await gather_limited(
        create(client, "Application", ns, f"app{i}", root) for i in range(9)
    )
    await gather_limited(create(client, "Metric", ns, f"m{i}", children[i % 9]) for i in range(990))
    names = [("Application", f"app{i}") for i in range(9)] + [
        ("Metric", f"m{i}") for i in range(990)
    ]
    return root, names


async def collect(client: Client) -> tuple[float, float]:
    _, names = await tree(client, "raw")

    def delete(kind: str, name: str) -> Callable[[], Awaitable[Any]]:
        return lambda: client.kind(registry.KINDS[kind]).delete("raw", name)

    raw = await timed(gather_limited(delete(k, n) for k, n in [("Cluster", "root"), *names]))
    _, names = await tree(client, "gc")
    controller = garbage_collector.build(client)
    task = asyncio.create_task(controller.run())
    while not all(i.synced.is_set() for i in controller.informers):
        await asyncio.sleep(0.01)
    started = time.perf_counter()
    await client.kind(registry.KINDS["Cluster"]).delete("gc", "root")
    while any(key.startswith("gc/") for i in controller.informers for key in i.cache):
        await asyncio.sleep(0.005)
    cooked = time.perf_counter() - started
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return cooked, raw


@contextlib.asynccontextmanager
async def api_server(backend: str) -> AsyncIterator[str]:
    with contextlib.ExitStack() as stack:
        if backend == "etcd":
            cluster = stack.enter_context(EtcdCluster(1, fsync=False))
            storage = "etcd://" + ",".join(e.replace("http://", "") for e in cluster.endpoints)
        else:
            storage = f"sqlite:///{stack.enter_context(tempfile.TemporaryDirectory())}/krake.db"
        api = stack.enter_context(ApiProcess(storage))
        yield api.grpc


def row(name: str, cooked: float, raw: float, unit: str) -> None:
    print(f"{name:<44} {cooked:>12.2f} {raw:>12.2f} {unit:<10} ratio {cooked / raw:5.2f}")


async def main(args: argparse.Namespace) -> None:
    async with api_server(args.backend) as target, connect(target) as channel:
        client = Client(channel, timeout=60.0)
        print(f"backend {args.backend}; API in its own process; {'runtime':>27} {'raw':>12}")
        cooked, raw = await startup(client, args.objects)
        row(f"informer start-up, {args.objects} objects", cooked, raw, "s")
        cooked, raw = await absorb(client, args.events)
        row(f"events absorbed ({args.events} updates, c32)", cooked, raw, "events/s")
        cooked, raw = await collect(client)
        row("GC of a 1,000-object tree (3 levels)", cooked, raw, "s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=3_000)
    parser.add_argument("--backend", choices=("sqlite", "etcd"), default="sqlite")
    asyncio.run(main(parser.parse_args()))
