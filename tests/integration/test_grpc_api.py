"""The API over real gRPC channels, on both backends, for every kind."""

from __future__ import annotations

from typing import Any

import grpc
import grpc.aio
import pytest
from google.protobuf.message_factory import GetMessageClass
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_status import rpc_status

from krake.kubernetes.v1 import kubernetes_pb2, kubernetes_service_pb2, kubernetes_service_pb2_grpc
from krake_api import registry
from krake_api.registry import Kind
from krake_api.services import handlers
from krake_testing.examples import changed_spec, example

BINDINGS = registry.bind()


async def call(channel: grpc.aio.Channel, kind: Kind, verb: str, **fields: Any) -> Any:
    """Call `kind`'s RPC for `verb` generically, from the registry's binding."""
    path, binding = next((p, b) for p, b in BINDINGS.items() if b.kind == kind and b.verb == verb)
    request = GetMessageClass(binding.method.input_type)(**fields)
    response_class = GetMessageClass(binding.method.output_type)
    rpc = channel.unary_unary(
        path,
        request_serializer=type(request).SerializeToString,
        response_deserializer=response_class.FromString,
    )
    return await rpc(request, timeout=10)


def location(kind: Kind, namespace: str) -> dict[str, str]:
    return {"namespace": namespace} if kind.namespaced else {}


@pytest.mark.parametrize(
    "kind", sorted(registry.KINDS.values(), key=lambda k: k.name), ids=lambda k: k.name
)
async def test_every_kind_over_grpc(channel: grpc.aio.Channel, kind: Kind) -> None:
    namespace = f"grpc-{kind.name.lower()}"
    obj: Any = example(kind, name=f"{namespace}-obj", namespace=namespace)
    where = location(kind, namespace)
    created = await call(channel, kind, "create", **where, **{kind.field: obj})
    assert created.metadata.uid and created.metadata.generation == 1
    name = created.metadata.name
    assert await call(channel, kind, "get", **where, name=name) == created
    listing = await call(channel, kind, "list", **where, field_selector=f"metadata.name={name}")
    assert list(listing.items) == [created] and int(listing.resource_version) > 0
    obj.spec.CopyFrom(changed_spec(kind))
    updated = await call(channel, kind, "update", **{kind.field: obj})
    assert updated.metadata.generation == 2
    await call(channel, kind, "delete", **where, name=name)
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await call(channel, kind, "get", **where, name=name)
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND


async def test_errors_carry_codes_and_field_violations(channel: grpc.aio.Channel) -> None:
    stub = kubernetes_service_pb2_grpc.KubernetesServiceStub(channel)
    app = kubernetes_pb2.Application()
    app.metadata.name = "Bad_Name"
    request = kubernetes_service_pb2.CreateApplicationRequest(namespace="errors", application=app)
    with pytest.raises(grpc.aio.AioRpcError) as bad:
        await stub.CreateApplication(request)
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(bad.value)
    assert status is not None
    detail = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(detail)
    assert {"metadata.name", "spec.manifest"} <= {v.field for v in detail.field_violations}

    good: Any = example(registry.KINDS["Application"], name="app", namespace="errors")
    request = kubernetes_service_pb2.CreateApplicationRequest(namespace="errors", application=good)
    created = await stub.CreateApplication(request)
    with pytest.raises(grpc.aio.AioRpcError) as twice:
        await stub.CreateApplication(request)
    assert twice.value.code() == grpc.StatusCode.ALREADY_EXISTS
    good.metadata.resource_version = str(int(created.metadata.resource_version) - 1)
    with pytest.raises(grpc.aio.AioRpcError) as stale:
        await stub.UpdateApplication(
            kubernetes_service_pb2.UpdateApplicationRequest(application=good)
        )
    assert stale.value.code() == grpc.StatusCode.ABORTED
    big = kubernetes_service_pb2.UpdateApplicationRequest(application=created)
    big.application.metadata.annotations["blob"] = "x" * (1536 * 1024)
    with pytest.raises(grpc.aio.AioRpcError) as large:
        await stub.UpdateApplication(big)
    assert large.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (
        await stub.GetApplication(
            kubernetes_service_pb2.GetApplicationRequest(namespace="errors", name="app")
        )
        == created
    )


async def test_reflection_and_health_are_served(channel: grpc.aio.Channel) -> None:
    reflect = reflection_pb2_grpc.ServerReflectionStub(channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    async for response in reflect.ServerReflectionInfo(iter([request])):
        names = {s.name for s in response.list_services_response.service}
        break
    assert {s.full_name for s in registry.SERVICES} <= names
    reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_every_rpc_is_served() -> None:
    assert handlers.unserved(BINDINGS) == []
