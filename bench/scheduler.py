"""Scheduler benchmark: N applications over M clusters with 3 metrics each, each
number beside a baseline from the same run, and the issue's target.

A real `krake-api` process (sqlite; its own CPU, as in production) and the
scheduler controller in this process. M clusters (ONLINE) each rank by 3 of 30
GlobalMetrics read from one GlobalMetricsProvider: `static` (default) or a fake
Prometheus served here over HTTP (`--provider prometheus`).
- bind all: N unbound applications exist, the scheduler starts (informer sync
  included; 32 workers, as many as the direct writes' concurrency); time until
  every one is bound and explained. Baselines: the pure
  placement function's cost per app (x N), and the API writes the scheduler must
  make (bind + status) issued directly at concurrency 32 (per app, x N).
- steady creates: with the N apps bound and the scheduler idle (its queue empty
  after the re-checks bind-all's own writes cause), create apps
  at a steady rate (default 20/s) and watch them: p50/p99/max of create -> bound
  (the watch shows status.scheduled_to), beside create -> ADDED on the same watch
  (the API's own floor). Target: p99 <= 100 ms.

    python bench/scheduler.py [--apps 10000] [--clusters 1000] [--rate 20]
                              [--steady 30] [--provider static|prometheus]
                              [--backend sqlite|etcd] [--workers 32] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import machine
from google.protobuf import json_format

from krake.core.v1 import metadata_pb2
from krake.kubernetes.v1 import kubernetes_pb2
from krake_api import logs, registry
from krake_controllers import scheduler
from krake_controllers.runtime.client import Client, connect
from krake_controllers.scheduler import filters, placement, views
from krake_controllers.scheduler.readings import MetricKey, Reading
from krake_controllers.scheduler.snapshots import Snapshot
from krake_testing.api import ApiProcess
from krake_testing.etcd import EtcdCluster
from krake_testing.examples import KUBECONFIG
from krake_testing.metrics import FakePrometheus

KINDS = registry.KINDS
METRICS = 30
NS = "bench"
MANIFEST = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}]


async def gather_limited(
    jobs: Iterable[Callable[[], Awaitable[Any]]], limit: int = 32
) -> list[Any]:
    gate = asyncio.Semaphore(limit)

    async def run(job: Callable[[], Awaitable[Any]]) -> Any:
        async with gate:
            return await job()

    return await asyncio.gather(*(run(job) for job in jobs))


def obj(kind: str, data: dict[str, Any]) -> Any:
    return json_format.ParseDict(data, KINDS[kind].message())


def application(ns: str, name: str) -> Any:
    return obj(
        "Application", {"metadata": {"name": name, "namespace": ns}, "spec": {"manifest": MANIFEST}}
    )


def progress(what: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {what}", file=sys.stderr, flush=True)


async def world(
    client: Client, clusters: int, provider: dict[str, Any], rng: random.Random
) -> None:
    """The provider, 30 GlobalMetrics, and `clusters` ONLINE clusters with 3 metrics each."""
    spec = {"metadata": {"name": "metrics"}, "spec": provider}
    await client.kind(KINDS["GlobalMetricsProvider"]).create(obj("GlobalMetricsProvider", spec))
    metrics = client.kind(KINDS["GlobalMetric"])
    for i in range(METRICS):
        spec = {"min": 0, "max": 1, "provider": {"name": "metrics", "metric": f"m{i}"}}
        await metrics.create(obj("GlobalMetric", {"metadata": {"name": f"m{i}"}, "spec": spec}))
    api = client.kind(KINDS["Cluster"])

    async def cluster(i: int) -> None:
        refs = [
            {"name": f"m{m}", "weight": rng.randint(1, 5)} for m in rng.sample(range(METRICS), 3)
        ]
        data = {
            "metadata": {"name": f"c{i}", "namespace": NS},
            "spec": {"kubeconfig": KUBECONFIG, "metrics": refs},
        }
        made = await api.create(obj("Cluster", data))
        made.status.state = kubernetes_pb2.Cluster.Status.ONLINE
        await api.update_status(made)

    await gather_limited(lambda i=i: cluster(i) for i in range(clusters))


def pure_cost(
    clusters: list[Any], values: dict[str, float], samples: int = 200
) -> tuple[float, Any]:
    """Seconds one placement takes (rank + explain over every cluster, the clusters
    judged once for apps with the same constraints, as the scheduler does): the
    median sample, which the machine's stalls barely move (a mean of CPU time
    counts them); and the last explanation made."""
    targets = [views.cluster_target(c) for c in clusters]
    readings = {MetricKey("", k): Reading(v, v) for k, v in values.items()}
    snapshot = Snapshot(1, targets, tuple(readings))
    snapshot.scores(readings)
    subject_ref = metadata_pb2.ResourceRef()  # unbound
    took = []
    for i in range(samples):
        subject = views.application_subject(application(NS, f"probe{i}"))
        started = time.perf_counter()
        judged = snapshot.judged(subject, readings, filters.CLUSTER_FILTERS)  # as the scheduler
        ranked = placement.rank(subject, judged, stickiness=0.1)
        chosen = placement.chosen(placement.decide(subject, ranked), subject_ref)
        found = placement.explain(ranked, chosen=chosen, now=datetime.now(UTC), limit=20)
        took.append(time.perf_counter() - started)
    return statistics.median(took), found


async def raw_writes(client: Client, clusters: list[Any], count: int, found: Any) -> float:
    """Seconds per app of the scheduler's writes (bind, then status with the
    explanation `found`, as large as the scheduler's), issued directly."""
    apps = client.kind(KINDS["Application"])
    made = await gather_limited(
        lambda i=i: apps.create(application("raw", f"r{i}")) for i in range(count)
    )
    bind = client.unary(KINDS["Application"], "bind")
    target = views.ref_of(clusters[0])

    async def write(app: Any) -> None:
        request = client.request(
            KINDS["Application"], "bind", namespace="raw", name=app.metadata.name, cluster=target
        )
        bound = await bind(request, timeout=client.timeout)
        bound.status.placement.CopyFrom(found)
        await apps.update_status(bound)

    started = time.perf_counter()
    await gather_limited(lambda a=a: write(a) for a in made)
    return (time.perf_counter() - started) / count


async def bind_all(
    client: Client, count: int, workers: int
) -> tuple[float, Any, asyncio.Task[None]]:
    apps = client.kind(KINDS["Application"])
    await gather_limited(lambda i=i: apps.create(application(NS, f"a{i}")) for i in range(count))
    controller = scheduler.build(client, workers=workers)
    informer = controller.informers[0]
    assert informer.client.kind.name == "Application"
    bound: set[str] = set()  # counted from the events: polling 10,000 apps costs CPU here

    def tally(event: Any) -> None:
        if event.object.metadata.namespace == NS and event.object.status.placement.chosen.name:
            bound.add(event.key)

    informer.add_handler(tally)
    started = time.perf_counter()
    task = asyncio.create_task(controller.run())
    while not (informer.synced.is_set() and len(bound) >= count):
        await asyncio.sleep(0.05)
    return time.perf_counter() - started, controller, task


async def settle(controller: Any, limit: float = 300.0) -> float:
    """Seconds until the scheduler's queue is empty and no key is being processed
    (after bind-all, each app comes back once for the events of its own writes):
    the steady creates then measure a scheduler with nothing else to do."""
    started = time.perf_counter()
    async with asyncio.timeout(limit):
        while len(controller.queue) or controller.queue.processing():
            await asyncio.sleep(0.05)
    return time.perf_counter() - started


async def steady(
    client: Client, rate: float, seconds: float
) -> tuple[list[float], list[float], int]:
    """create -> ADDED and create -> bound latencies (s) of apps created at `rate`/s,
    and how many were not bound within a minute of the last creation (the
    scheduler falls behind when it binds fewer than `rate` per second)."""
    apps = client.kind(KINDS["Application"])
    sent: dict[str, float] = {}
    added: dict[str, float] = {}
    bound: dict[str, float] = {}
    total = int(rate * seconds)
    probe = await apps.create(application(NS, "probe"))  # watch from now on
    stream = apps.watch(NS, resource_version=probe.metadata.resource_version)

    async def follow() -> None:
        async for event in stream:
            if event.type == metadata_pb2.BOOKMARK:
                continue
            name, now = event.object.metadata.name, time.perf_counter()
            if name not in sent:
                continue
            added.setdefault(name, now)
            if event.object.status.scheduled_to.name:
                bound.setdefault(name, now)
            if len(bound) == total:
                return

    following = asyncio.create_task(follow())
    await asyncio.sleep(0.5)
    started = time.perf_counter()
    creating = []
    for i in range(total):
        await asyncio.sleep(max(0.0, started + i / rate - time.perf_counter()))
        name = f"s{i}"
        sent[name] = time.perf_counter()
        creating.append(asyncio.create_task(apps.create(application(NS, name))))
    await asyncio.gather(*creating)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(following, timeout=max(60.0, seconds))
    stream.cancel()
    late = len(sent) - len(bound)
    return [added[n] - sent[n] for n in added], [bound[n] - sent[n] for n in bound], late


def pct(values: list[float], q: float) -> float:
    if q >= 1.0 or len(values) == 1:
        return max(values)
    return statistics.quantiles(values, n=1000, method="inclusive")[int(q * 1000) - 1]


def row(name: str, measured: float, baseline: float, unit: str, target: str = "") -> None:
    print(f"{name:<46} {measured:>10.3f} {baseline:>10.3f} {unit:<6} {target}")


@contextlib.asynccontextmanager
async def provider(
    kind: str, rng: random.Random
) -> AsyncIterator[tuple[dict[str, Any], dict[str, float]]]:
    values = {f"m{i}": round(rng.random(), 3) for i in range(METRICS)}
    if kind == "static":
        yield {"static": {"metrics": values}}, values
        return
    async with FakePrometheus(values) as prometheus:
        yield {"prometheus": {"url": prometheus.url}}, values


@contextlib.contextmanager
def api_process(backend: str) -> Iterator[ApiProcess]:
    with contextlib.ExitStack() as stack:
        if backend == "etcd":
            cluster = stack.enter_context(EtcdCluster(1, fsync=False))
            storage = "etcd://" + ",".join(e.replace("http://", "") for e in cluster.endpoints)
        else:
            storage = f"sqlite:///{stack.enter_context(tempfile.TemporaryDirectory())}/krake.db"
        yield stack.enter_context(ApiProcess(storage))


async def main(args: argparse.Namespace) -> None:
    rng = random.Random(7)
    with api_process(args.backend) as api:
        async with connect(api.grpc) as channel, provider(args.provider, rng) as (spec, values):
            client = Client(channel, timeout=60.0)
            progress(f"creating {args.clusters} clusters")
            await world(client, args.clusters, spec, rng)
            progress("pure placement cost")
            clusters = (await client.kind(KINDS["Cluster"]).list(NS)).items
            per_app, found = pure_cost(clusters, values)
            progress(f"creating {args.apps} apps, then binding them")
            took, controller, task = await bind_all(client, args.apps, args.workers)
            progress(f"bound all in {took:.1f} s; waiting for the scheduler to settle")
            settled = await settle(controller)
            progress(f"settled in {settled:.1f} s (re-checks of its own writes); steady creates")
            floor, latencies, late = await steady(client, args.rate, args.steady)
            progress("direct writes")
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            writes = await raw_writes(client, clusters, min(args.apps, 300), found)
            print(
                f"{args.apps} apps x {args.clusters} clusters x 3 metrics ({args.provider}); "
                f"API in its own process ({args.backend}), scheduler here; a noisy 2-core VM"
            )
            print(machine.describe())
            print(f"{'':<46} {'measured':>10} {'baseline':>10}")
            row("placement per app (median)", per_app * 1000, per_app * 1000, "ms")
            row("bind all (s) vs placement x N", took, per_app * args.apps, "s")
            row("bind all (s) vs direct writes x N (c32)", took, writes * args.apps, "s")
            row("bind all: apps/s vs direct bind+status/s", args.apps / took, 1 / writes, "1/s")
            target = "target p99 <= 100 ms"
            for q, label in ((0.5, "p50"), (0.99, "p99"), (1.0, "max")):
                name = f"create->bound {label} @{args.rate:g}/s vs create->ADDED"
                note = target if label == "p99" else ""
                if latencies:
                    row(name, pct(latencies, q) * 1000, pct(floor, q) * 1000, "ms", note)
            if late:
                total = int(args.rate * args.steady)
                print(
                    f"{late} of {total} steady apps were not bound within a minute of the last"
                    " creation; the percentiles above are of the bound ones only"
                )
            await controller.scheduler.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--apps", type=int, default=10_000)
    parser.add_argument("--clusters", type=int, default=1_000)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--steady", type=float, default=30.0, help="seconds of steady creates")
    parser.add_argument("--provider", choices=("static", "prometheus"), default="static")
    parser.add_argument("--workers", type=int, default=32, help="scheduler workers")
    parser.add_argument("--backend", choices=("sqlite", "etcd"), default="sqlite")
    parser.add_argument("--quick", action="store_true", help="1,000 apps x 100 clusters, 10 s")
    parsed = parser.parse_args()
    logs.configure("warning", "console")
    if parsed.quick:
        parsed.apps, parsed.clusters, parsed.steady = 1_000, 100, 10.0
    asyncio.run(main(parsed))
