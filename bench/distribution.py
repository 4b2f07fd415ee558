"""Application distribution benchmark: create -> RUNNING on fake member clusters,
beside its raw baseline from the same run.

Real processes, as in production: a `krake-api` (sqlite), a `krake-controller
kubernetes-application`, and N fake clusters (`python -m krake_testing.kube`, pods
ready after `--ready-delay`). The benchmark creates `--apps` applications (a
Deployment of 2 replicas and a ConfigMap each) at `--rate` per second, binding each
to a cluster round-robin right after its creation (the scheduler's decision preset),
and follows a watch on Applications to time create -> RUNNING. The controller's CPU
is read from /proc (user + system seconds) over the run.

Baseline: the same manifests applied straight to the same fake clusters with
server-side apply (official client, threads), at the same rate, timed until the
Deployment is ready (watched): the floor that any controller adds to.

    python bench/distribution.py [--apps 200] [--rate 20] [--clusters 10] [--ready-delay 0.1]
                                 [--backend sqlite|etcd]   (etcd without fsync, as in tests)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import machine
import yaml
from google.protobuf import json_format

from krake.core.v1 import metadata_pb2
from krake.kubernetes.v1 import kubernetes_pb2
from krake_api import registry
from krake_controllers.kube.connection import Connection
from krake_controllers.runtime.client import Client, connect
from krake_testing.api import ApiProcess, free_port
from krake_testing.etcd import EtcdCluster

APP = registry.KINDS["Application"]
CLUSTER = registry.KINDS["Cluster"]
RUNNING = kubernetes_pb2.Application.Status.RUNNING
NS = "bench"
DEADLINE = 300.0  # seconds after the last creation; stragglers count with the time waited


def manifest(name: str) -> list[dict[str, Any]]:
    labels = {"app": name}
    return [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": "v"}},
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "main", "image": "nginx"}]},
                },
            },
        },
    ]


@contextlib.contextmanager
def fake_clusters(count: int, ready_delay: float, directory: pathlib.Path) -> Iterator[list[Any]]:
    """`count` fake clusters, each in its own process; their kubeconfigs."""
    processes, configs = [], []
    try:
        for i in range(count):
            path = directory / f"c{i}.yaml"
            command = [
                *(sys.executable, "-m", "krake_testing.kube", "--name", f"c{i}"),
                *("--address", f"127.0.0.1:{free_port()}", "--kubeconfig", str(path)),
                *("--ready-delay", str(ready_delay), "--completion-delay", str(ready_delay)),
            ]
            processes.append(subprocess.Popen(command, stdout=subprocess.PIPE))
        for process in processes:
            assert process.stdout is not None
            if b"serving at" not in process.stdout.readline():
                raise RuntimeError("a fake cluster did not start")
        for i in range(count):
            configs.append(yaml.safe_load((directory / f"c{i}.yaml").read_text()))
        yield configs
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def cpu_seconds(pid: int) -> float:
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def paced(count: int, rate: float, job: Callable[[int], Coroutine[Any, Any, None]]) -> None:
    """`job(i)` for i in range(count), started `rate` per second, awaited together."""
    started = time.perf_counter()
    tasks: list[asyncio.Task[None]] = []
    for i in range(count):
        delay = started + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(job(i)))
    await asyncio.gather(*tasks)


async def krake_run(client: Client, count: int, rate: float, clusters: int) -> list[float]:
    apps = client.kind(APP)
    began: dict[str, float] = {}
    done: dict[str, float] = {}
    finished = asyncio.Event()

    async def follow() -> None:
        async for event in apps.events(NS):
            name = event.object.metadata.name
            if event.object.status.state == RUNNING and name in began and name not in done:
                done[name] = time.perf_counter()
                if len(done) == count:
                    finished.set()

    async def one(i: int) -> None:
        name = f"app{i}"
        app = json_format.ParseDict(
            {"metadata": {"name": name, "namespace": NS}, "spec": {"manifest": manifest(name)}},
            APP.message(),
        )
        began[name] = time.perf_counter()
        await apps.create(app)
        ref = metadata_pb2.ResourceRef(
            api="kubernetes", kind="Cluster", namespace=NS, name=f"c{i % clusters}"
        )
        request = client.request(APP, "bind", namespace=NS, name=name, cluster=ref)
        await client.unary(APP, "bind")(request, timeout=client.timeout)

    following = asyncio.create_task(follow())
    await asyncio.sleep(0.2)  # the watch is open
    await paced(count, rate, one)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(finished.wait(), DEADLINE)
    following.cancel()
    if len(done) < count:
        print(f"only {len(done)} of {count} applications RUNNING within {DEADLINE:g} s")
    return [done.get(n, time.perf_counter()) - began[n] for n in began]


async def raw_run(configs: list[Any], count: int, rate: float) -> list[float]:
    """Server-side apply per app; one watch per cluster reports each Deployment ready."""
    connections = [Connection(c, workers=16, timeout=(120.0, 120.0)) for c in configs]
    clients = [await conn.dynamic() for conn in connections]
    kinds = [(o["apiVersion"], o["kind"]) for o in manifest("x")] + [("apps/v1", "Deployment")]
    resources = [
        {k: await conn.call(d.resources.get, api_version=k[0], kind=k[1]) for k in kinds}
        for conn, d in zip(connections, clients, strict=True)
    ]
    ready: dict[str, asyncio.Event] = {f"raw{i}": asyncio.Event() for i in range(count)}

    async def follow(index: int) -> None:
        conn, dynamic = connections[index], clients[index]
        deployments = resources[index][("apps/v1", "Deployment")]
        while True:
            events = conn.watch(dynamic.get, deployments, namespace="default", serialize=False)
            async for event in events:
                obj = event["object"]
                name = obj.get("metadata", {}).get("name", "")
                if name in ready and obj.get("status", {}).get("readyReplicas") == 2:
                    ready[name].set()

    followers = [asyncio.create_task(follow(i)) for i in range(len(connections))]
    latencies: list[float] = []

    async def one(i: int) -> None:
        index = i % len(connections)
        conn, dynamic = connections[index], clients[index]
        name = f"raw{i}"
        started = time.perf_counter()
        for obj in manifest(name):
            await conn.call(
                dynamic.server_side_apply,
                resources[index][(obj["apiVersion"], obj["kind"])],
                body=obj,
                namespace="default",
                field_manager="raw",
                force_conflicts=True,
                serialize=False,
            )
        await ready[name].wait()
        latencies.append(time.perf_counter() - started)

    await asyncio.sleep(0.5)  # the watches are open
    await paced(count, rate, one)
    for task in followers:
        task.cancel()
    await asyncio.gather(*followers, return_exceptions=True)
    for conn in connections:
        await conn.close()
    return latencies


def row(name: str, values: list[float]) -> str:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * len(ordered)) - 1)]
    return f"{name:<40} p50 {statistics.median(ordered):6.3f} s  p99 {p99:6.3f} s"


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        directory = pathlib.Path(tmp)
        with contextlib.ExitStack() as stack:
            configs = stack.enter_context(fake_clusters(args.clusters, args.ready_delay, directory))
            storage = f"sqlite:///{directory}/krake.db"
            if args.backend == "etcd":  # without fsync, as the tests run it
                etcd = stack.enter_context(EtcdCluster(1, fsync=False))
                storage = "etcd://" + ",".join(e.replace("http://", "") for e in etcd.endpoints)
            api = stack.enter_context(ApiProcess(storage, bookmark_interval=1.0))
            async with connect(api.grpc) as channel:
                client = Client(channel, timeout=30.0)
                for i, config in enumerate(configs):
                    cluster = json_format.ParseDict(
                        {
                            "metadata": {"name": f"c{i}", "namespace": NS},
                            "spec": {"kubeconfig": config},
                        },
                        CLUSTER.message(),
                    )
                    await client.kind(CLUSTER).create(cluster)
                env = {k: v for k, v in os.environ.items() if not k.startswith("KRAKE_")}
                profile = os.environ.get("BENCH_PROFILE")  # a cProfile output file
                profiled = ["-m", "cProfile", "-o", profile] if profile else []
                controller = subprocess.Popen(
                    [
                        sys.executable,
                        *profiled,
                        "-m",
                        "krake_controllers",
                        "kubernetes-application",
                        "--api",
                        api.grpc,
                        "--log-level",
                        os.environ.get("BENCH_LOG_LEVEL", "info"),
                        "--workers",
                        str(args.workers),
                    ],
                    env=env,
                    stderr=(directory / "controller.log").open("wb"),
                )
                try:
                    while "controller.synced" not in (directory / "controller.log").read_text():
                        await asyncio.sleep(0.1)  # imports take a while on a loaded machine
                    print(f"before: {machine.describe()}")
                    raw = await raw_run(configs, args.apps, args.rate)
                    cpu = cpu_seconds(controller.pid)
                    started = time.perf_counter()
                    cooked = await krake_run(client, args.apps, args.rate, args.clusters)
                    wall = time.perf_counter() - started
                    cpu = cpu_seconds(controller.pid) - cpu
                finally:
                    controller.terminate()
                    try:
                        controller.wait(30)
                    except subprocess.TimeoutExpired:
                        controller.kill()
                        controller.wait()
                    log = (directory / "controller.log").read_text()
                    if os.environ.get("BENCH_LOG"):
                        pathlib.Path(os.environ["BENCH_LOG"]).write_text(log)
    print(
        f"{args.apps} apps at {args.rate:g}/s on {args.clusters} fake clusters, "
        f"{args.backend} store, pods ready after {args.ready_delay:g} s,"
        f" controller workers {args.workers or 'default'}"
    )
    print(row("krake: create -> RUNNING", cooked))
    print(row("raw: server-side apply -> ready", raw))
    print(f"controller CPU {cpu:.2f} s over {wall:.1f} s ({100 * cpu / wall:.0f}% of one core)")
    print(f"after: {machine.describe()}")
    print(f"reconciles retried after an error: {log.count('reconcile.failed')}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--apps", type=int, default=200)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--clusters", type=int, default=10)
    parser.add_argument("--ready-delay", type=float, default=0.1)
    parser.add_argument("--backend", choices=("sqlite", "etcd"), default="sqlite")
    parser.add_argument("--workers", type=int, default=0, help="controller workers (0: default)")
    asyncio.run(main(parser.parse_args()))
