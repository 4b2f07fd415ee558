"""Helpers the application controller tests share: fake member clusters registered
as Clusters, applications bound to them, the controller in-process, and waiting on
conditions with deadlines."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Final, TypeVar

from google.protobuf import json_format

from krake.core.v1 import metadata_pb2
from krake.kubernetes.v1 import kubernetes_pb2
from krake_api import registry
from krake_controllers import kubernetes_application
from krake_controllers.kubernetes_application.reconciler import Settings
from krake_controllers.runtime.client import Client
from krake_testing.kube import FakeCluster

T = TypeVar("T")
KINDS = registry.KINDS
DEADLINE: Final = 30.0
State = kubernetes_pb2.Application.Status.State
FAST: Final = Settings(migration_timeout=20.0, deletion_recheck=0.2)


def deployment(name: str = "web", replicas: int = 2, image: str = "nginx:1.25") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "main", "image": image}]},
            },
        },
    }


def config_map(name: str = "settings", **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def service(name: str = "web", port: int = 80, kind: str = "NodePort") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"type": kind, "selector": {"app": name}, "ports": [{"port": port}]},
    }


def message(kind: str, data: dict[str, Any]) -> Any:
    return json_format.ParseDict(data, KINDS[kind].message())


async def add_cluster(client: Client, ns: str, fake: FakeCluster) -> Any:
    data = {
        "metadata": {"name": fake.name, "namespace": ns},
        "spec": {"kubeconfig": fake.kubeconfig},
    }
    return await client.kind(KINDS["Cluster"]).create(message("Cluster", data))


async def create_app(
    client: Client, ns: str, name: str, manifest: list[dict[str, Any]], **spec: Any
) -> Any:
    data = {"metadata": {"name": name, "namespace": ns}, "spec": {"manifest": manifest, **spec}}
    return await client.kind(KINDS["Application"]).create(message("Application", data))


async def bind(client: Client, ns: str, name: str, cluster: str) -> Any:
    kind = KINDS["Application"]
    ref = metadata_pb2.ResourceRef(api="kubernetes", kind="Cluster", namespace=ns, name=cluster)
    request = client.request(kind, "bind", namespace=ns, name=name, cluster=ref)
    return await client.unary(kind, "bind")(request, timeout=client.timeout)


async def update_app(client: Client, ns: str, name: str, change: Callable[[Any], None]) -> Any:
    api = client.kind(KINDS["Application"])
    app = await api.get(ns, name)
    change(app)
    return await api.update(app)


async def until(check: Callable[[], Awaitable[T | None]], deadline: float = DEADLINE) -> T:
    """`check()`'s first truthy value, polled until `deadline` seconds have passed."""
    async with asyncio.timeout(deadline):
        while not (found := await check()):
            await asyncio.sleep(0.02)
    return found


async def app_state(client: Client, ns: str, name: str, *states: int) -> Any:
    """The application once its state is one of `states`."""
    api = client.kind(KINDS["Application"])

    async def check() -> Any:
        app = await api.get(ns, name)
        return app if app.status.state in states else None

    return await until(check)


async def app_gone(client: Client, ns: str, name: str) -> None:
    api = client.kind(KINDS["Application"])

    async def check() -> bool:
        try:
            await api.get(ns, name)
        except Exception as err:  # NOT_FOUND
            return "NOT_FOUND" in str(getattr(err, "code", lambda: "")())
        return False

    await until(check)


async def on_cluster(
    fake: FakeCluster, kind: str, name: str, ns: str, check: Callable[[Any], bool] = bool
) -> Any:
    """The object on `fake` once `check(obj)` holds (default: it exists)."""

    async def found() -> Any:
        obj = fake.get(kind, name, ns)
        return obj if obj is not None and check(obj) else None

    return await until(found)


async def off_cluster(fake: FakeCluster, kind: str, name: str, ns: str) -> None:
    async def gone() -> bool:
        return fake.get(kind, name, ns) is None

    await until(gone)


@contextlib.asynccontextmanager
async def running(client: Client, settings: Settings = FAST) -> AsyncIterator[Any]:
    """The application controller, in this process, until the block ends."""
    controller = kubernetes_application.build(client, settings=settings, bookmark_interval=1.0)
    task = asyncio.create_task(controller.run())
    try:
        await asyncio.wait_for(
            asyncio.gather(*(i.synced.wait() for i in controller.informers)), DEADLINE
        )
        yield controller
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@contextlib.asynccontextmanager
async def states_of(client: Client, ns: str, name: str) -> AsyncIterator[list[int]]:
    """Every state the application passes through while the block runs (watched,
    so a state held for milliseconds is not missed)."""
    seen: list[int] = []
    api = client.kind(KINDS["Application"])

    async def follow() -> None:
        async for event in api.events(ns):
            state = event.object.status.state
            if event.object.metadata.name == name and (not seen or seen[-1] != state):
                seen.append(state)

    task = asyncio.create_task(follow())
    try:
        yield seen
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def reconciles(controller: Any) -> float:
    """How many reconciles the controller has finished, whatever their outcome."""
    total = 0.0
    for metric in controller.metrics.reconciles.collect():
        for sample in metric.samples:
            if sample.name.endswith("_total"):
                total += sample.value
    return total


async def settled(controller: Any, since: float) -> None:
    """Once the controller has reconciled after the `since` count and is idle: it has
    seen what happened before, and done whatever it was going to do about it."""

    async def idle() -> bool:
        queue = controller.queue
        return reconciles(controller) > since and not len(queue) and not queue.processing()

    await until(idle)
