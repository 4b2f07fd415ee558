"""Helpers of the cluster controller tests: test-sized timing, registering a Cluster,
waiting for a condition with a deadline."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from typing import Any, Final, TypeVar

from google.protobuf import json_format

from krake.kubernetes.v1 import kubernetes_pb2
from krake_api import registry
from krake_controllers import kubernetes_cluster
from krake_controllers.kubernetes_cluster import Timing
from krake_controllers.runtime.backoff import Backoff
from krake_controllers.runtime.client import Client, KindClient

T = TypeVar("T")
Cluster = kubernetes_pb2.Cluster
State = Cluster.Status.State
DEADLINE: Final = 30.0
FAST: Final = Timing(
    probe_interval=0.3, backoff=Backoff(base=0.1, cap=0.5), timeout=(1.0, 1.0), watch_seconds=5
)


@contextlib.asynccontextmanager
async def controller_running(
    client: Client, timing: Timing = FAST, **options: Any
) -> AsyncIterator[kubernetes_cluster.ClusterController]:
    """The controller, in this process, synced; drained and stopped on exit."""
    controller = kubernetes_cluster.build(client, settings=timing, bookmark_interval=1.0, **options)
    task = asyncio.create_task(controller.run())
    try:
        async with asyncio.timeout(DEADLINE):
            while not all(i.synced.is_set() for i in controller.informers):
                await asyncio.sleep(0.01)
        yield controller
        controller.shutdown()
        async with asyncio.timeout(DEADLINE):
            await task
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def clusters(client: Client) -> KindClient:
    return client.kind(registry.KINDS["Cluster"])


def cluster_message(
    ns: str,
    name: str,
    kubeconfig: Mapping[str, Any],
    custom_resources: Iterable[str] = (),
    finalizers: Iterable[str] = (),
) -> Cluster:
    data = {
        "metadata": {"name": name, "namespace": ns, "finalizers": list(finalizers)},
        "spec": {"kubeconfig": dict(kubeconfig), "custom_resources": list(custom_resources)},
    }
    return json_format.ParseDict(data, Cluster())


async def register(
    client: Client, ns: str, name: str, kubeconfig: Mapping[str, Any], **more: Any
) -> Cluster:
    created: Cluster = await clusters(client).create(cluster_message(ns, name, kubeconfig, **more))
    return created


async def until(check: Callable[[], Awaitable[T | None]], deadline: float = DEADLINE) -> T:
    """`check()`'s first truthy result, polled until `deadline` seconds have passed."""
    async with asyncio.timeout(deadline):
        while not (found := await check()):
            await asyncio.sleep(0.02)
    return found


def in_state(
    client: Client, ns: str, name: str, state: int
) -> Callable[[], Awaitable[Cluster | None]]:
    async def check() -> Cluster | None:
        cluster: Cluster = await clusters(client).get(ns, name)
        return cluster if cluster.status.state == state else None

    return check


def kube_threads() -> set[threading.Thread]:
    """The threads of connections to member clusters (calls and watches)."""
    return {t for t in threading.enumerate() if t.name.startswith("kube-")}


def node_conditions(cluster: Cluster) -> dict[str, dict[str, str]]:
    return {node.name: {c.type: c.status for c in node.conditions} for node in cluster.status.nodes}


class FreezingProxy:
    """A loopback TCP forwarder to `port` that can freeze: bytes stop flowing both
    ways and new connections are accepted but never answered, with no reset and no
    FIN, as over a dead network path. Open watches notice nothing."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.flowing = asyncio.Event()
        self.flowing.set()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.port)
        self._writers |= {writer, up_writer}
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pump(source, sink))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                await self.flowing.wait()
                writer.write(data)
                await writer.drain()
        writer.close()
