"""`krake up --demo`: two fake Kubernetes clusters (krake_testing.kube) served from
the same process and registered as Clusters in the `default` namespace, so that
Krake can be tried end to end without a real cluster. Their kubeconfigs are written
to a temporary directory (for kubectl), which is removed when Krake stops."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final

import grpc
from google.protobuf import json_format

from krake.kubernetes.v1 import kubernetes_pb2
from krake_api import registry
from krake_controllers.runtime.client import Client

if TYPE_CHECKING:
    from krake_testing.kube import FakeCluster

NAMES: Final = ("demo-a", "demo-b")
NAMESPACE: Final = "default"


@contextlib.asynccontextmanager
async def clusters(names: Sequence[str] = NAMES) -> AsyncIterator[list[FakeCluster]]:
    """The fake clusters, serving on free ports until the context exits."""
    if not names:
        yield []
        return
    from krake_testing.kube import FakeCluster  # only here: a second of imports

    directory = Path(tempfile.mkdtemp(prefix="krake-demo-"))
    members = [FakeCluster(name, directory=directory / name) for name in names]
    for member in members:
        member.directory.mkdir()
    try:
        async with contextlib.AsyncExitStack() as stack:
            for member in members:
                await stack.enter_async_context(member)
            yield members
    finally:
        await asyncio.to_thread(shutil.rmtree, directory, True)


async def register(client: Client, members: Sequence[FakeCluster]) -> None:
    """A Cluster per fake cluster (an existing one gets the new kubeconfig)."""
    api = client.kind(registry.KINDS["Cluster"])
    for member in members:
        cluster = json_format.ParseDict(
            {
                "metadata": {"name": member.name, "namespace": NAMESPACE},
                "spec": {"kubeconfig": member.kubeconfig},
            },
            kubernetes_pb2.Cluster(),
        )
        try:
            await api.create(cluster)
        except grpc.aio.AioRpcError as err:
            if err.code() != grpc.StatusCode.ALREADY_EXISTS:
                raise
            current = await api.get(NAMESPACE, member.name)
            current.spec.kubeconfig.Clear()
            current.spec.kubeconfig.update(member.kubeconfig)
            await api.update(current)
        print(
            f"krake: demo cluster {member.name} at {member.url} (kubeconfig "
            f"{member.kubeconfig_path}), registered as Cluster {NAMESPACE}/{member.name}",
            flush=True,
        )
