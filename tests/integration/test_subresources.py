"""Binding and the Application hooks, over gRPC, on both backends."""

from __future__ import annotations

from typing import Any

import grpc
import grpc.aio
import pytest

from krake.core.v1 import metadata_pb2
from krake.kubernetes.v1 import kubernetes_pb2, kubernetes_service_pb2_grpc
from krake.kubernetes.v1 import kubernetes_service_pb2 as api
from krake_api import registry
from krake_testing.examples import example

APP = kubernetes_pb2.Application
NS = "hooks"


async def create_app(stub: Any, name: str, *, hooks: bool, finalizer: str = "") -> Any:
    app: Any = example(registry.KINDS["Application"], name=name, namespace=NS)
    app.spec.hooks.complete = app.spec.hooks.shutdown = hooks
    if finalizer:
        app.metadata.finalizers.append(finalizer)
    created = await stub.CreateApplication(
        api.CreateApplicationRequest(namespace=NS, application=app)
    )
    created.status.complete_token, created.status.shutdown_token = "c-token", "s-token"
    return await stub.UpdateApplicationStatus(
        api.UpdateApplicationStatusRequest(application=created)
    )


async def code_of(call: Any) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as failed:
        await call
    return failed.value.code()


async def test_binding_records_the_scheduler_decision(channel: grpc.aio.Channel) -> None:
    stub = kubernetes_service_pb2_grpc.KubernetesServiceStub(channel)
    await create_app(stub, "bound", hooks=False)
    cluster = metadata_pb2.ResourceRef(api="kubernetes", kind="Cluster", namespace=NS, name="c1")
    bound = await stub.UpdateApplicationBinding(
        api.UpdateApplicationBindingRequest(namespace=NS, name="bound", cluster=cluster)
    )
    assert bound.status.scheduled_to == cluster and bound.status.HasField("scheduled")
    bad = api.UpdateApplicationBindingRequest(namespace=NS, name="bound", cluster={"name": "c1"})
    assert await code_of(stub.UpdateApplicationBinding(bad)) == grpc.StatusCode.INVALID_ARGUMENT
    missing = api.UpdateApplicationBindingRequest(namespace=NS, name="nope", cluster=cluster)
    assert await code_of(stub.UpdateApplicationBinding(missing)) == grpc.StatusCode.NOT_FOUND
    cloud = metadata_pb2.ResourceRef(api="infrastructure", kind="GlobalCloud", name="eu")
    cluster_obj: Any = example(registry.KINDS["Cluster"], name="c1", namespace=NS)
    await stub.CreateCluster(api.CreateClusterRequest(namespace=NS, cluster=cluster_obj))
    placed = await stub.UpdateClusterBinding(
        api.UpdateClusterBindingRequest(namespace=NS, name="c1", cloud=cloud)
    )
    assert placed.status.scheduled_to == cloud


async def test_hooks_check_the_token_and_change_nothing_when_refused(
    channel: grpc.aio.Channel,
) -> None:
    stub = kubernetes_service_pb2_grpc.KubernetesServiceStub(channel)
    await create_app(stub, "plain", hooks=False)
    no_hook = api.CompleteApplicationRequest(namespace=NS, name="plain", token="c-token")
    assert await code_of(stub.CompleteApplication(no_hook)) == grpc.StatusCode.FAILED_PRECONDITION

    hooked = await create_app(stub, "hooked", hooks=True, finalizer="krake.io/cleanup")
    wrong = api.CompleteApplicationRequest(namespace=NS, name="hooked", token="s-token")
    assert await code_of(stub.CompleteApplication(wrong)) == grpc.StatusCode.PERMISSION_DENIED
    get = api.GetApplicationRequest(namespace=NS, name="hooked")
    assert await stub.GetApplication(get) == hooked

    down = await stub.ShutdownApplication(
        api.ShutdownApplicationRequest(namespace=NS, name="hooked", token="s-token")
    )
    assert down.status.state == APP.Status.State.READY_FOR_ACTION
    done = await stub.CompleteApplication(
        api.CompleteApplicationRequest(namespace=NS, name="hooked", token="c-token")
    )
    assert done.metadata.HasField("deleted") and list(done.metadata.finalizers) == [
        "krake.io/cleanup"
    ]
    assert (await stub.GetApplication(get)).metadata.HasField("deleted")
    assert not (
        await stub.GetApplication(api.GetApplicationRequest(namespace=NS, name="plain"))
    ).metadata.HasField("deleted")
