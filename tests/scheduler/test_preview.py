"""PreviewApplicationPlacement over gRPC and over the HTTP gateway: the scheduler's
explanation, computed by the API from stored objects (metrics fetched from a real
HTTP fake of Prometheus), without binding or writing anything."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import grpc
import grpc.aio
import pytest
from aiohttp import web
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from scheduling_support import (
    OFFLINE,
    SQLITE_ONLY,
    add_app,
    add_cluster,
    add_metric,
    add_provider,
    app_reader,
    ref,
)

from krake.kubernetes.v1 import kubernetes_service_pb2, kubernetes_service_pb2_grpc
from krake_api.gateway import add_routes
from krake_api.gateway.inprocess import InProcessBackend
from krake_api.services.handlers import method_handlers
from krake_api.storage.base import Store
from krake_api.watch.streams import WatchCaches
from krake_controllers.runtime.client import Client
from krake_testing.metrics import FakePrometheus

pytestmark = SQLITE_ONLY
Request = kubernetes_service_pb2.PreviewApplicationPlacementRequest


@pytest.fixture
async def world(client: Client, ns: str) -> AsyncIterator[FakePrometheus]:
    """Three clusters (one offline) ranked by a Prometheus metric, one app."""
    async with FakePrometheus({"a": 0.2, "b": 0.7, "c": 0.9}) as prometheus:
        await add_provider(client, "prom", {"prometheus": {"url": prometheus.url}})
        for name in "abc":
            await add_metric(client, name, "prom")
        await add_cluster(client, ns, "a", metrics=[ref("a")])
        await add_cluster(client, ns, "b", metrics=[ref("b")])
        await add_cluster(client, ns, "c", metrics=[ref("c")], state=OFFLINE)
        await add_app(client, ns, "web")
        yield prometheus


@pytest.fixture
async def gateway(store: Store, caches: WatchCaches, api_target: str) -> AsyncIterator[str]:
    app = web.Application()
    add_routes(app, InProcessBackend(method_handlers(store, caches)))
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    yield f"http://{host}:{port}"
    await runner.cleanup()


async def test_preview_over_grpc_explains_without_writing(
    channel: grpc.aio.Channel, client: Client, ns: str, world: FakePrometheus
) -> None:
    before = await app_reader(client, ns, "web")()
    stub = kubernetes_service_pb2_grpc.KubernetesServiceStub(channel)
    found = await stub.PreviewApplicationPlacement(Request(namespace=ns, name="web"))
    assert found.chosen.name == "b" and found.chosen.kind == "Cluster"
    assert [c.ref.name for c in found.candidates] == ["b", "a", "c"]
    assert [c.eligible for c in found.candidates] == [True, True, False]
    assert found.candidates[0].score == pytest.approx(0.7)
    (term,) = found.candidates[2].terms
    assert (term.metric, term.value) == ("c", 0.9)
    assert found.HasField("evaluated") and found.omitted_candidates == 0
    after = await app_reader(client, ns, "web")()
    assert after == before  # nothing bound, nothing written
    assert world.requests == 3  # one fetch per metric


async def test_preview_errors_name_the_field(channel: grpc.aio.Channel, ns: str) -> None:
    stub = kubernetes_service_pb2_grpc.KubernetesServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await stub.PreviewApplicationPlacement(Request(namespace=ns, name="absent"))
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as bad:
        await stub.PreviewApplicationPlacement(Request(namespace=ns))
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(bad.value)
    assert status is not None
    detail = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(detail)
    assert [v.field for v in detail.field_violations] == ["name"]


async def test_preview_over_the_http_gateway(gateway: str, ns: str, world: Any) -> None:
    base = f"{gateway}/kubernetes/namespaces/{ns}/applications"
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/web/placement:preview") as response:
            assert response.status == 200
            body = await response.json()
        async with http.get(f"{base}/absent/placement:preview") as response:
            assert response.status == 404
            assert (await response.json())["code"] == grpc.StatusCode.NOT_FOUND.value[0]
        async with http.post(f"{base}/web/placement:preview") as response:
            assert response.status == 405
    assert body["chosen"]["name"] == "b"
    assert [c["ref"]["name"] for c in body["candidates"]] == ["b", "a", "c"]
    offline = body["candidates"][2]
    online = next(v for v in offline["verdicts"] if v["filter"] == "online")
    assert online == {
        "filter": "online",
        "message": "state is OFFLINE, not ONLINE",
    }  # "passed": false is left out, as proto3 JSON leaves out defaults
