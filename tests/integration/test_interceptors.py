"""The interceptor chain around every RPC: admission, the caller's identity reaching
the verbs, request ids, observers of every outcome, metrics of watches."""

from __future__ import annotations

import asyncio
import pathlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import grpc
import grpc.aio
import pytest
import structlog
from google.protobuf.message import Message
from prometheus_client.parser import text_string_to_metric_families

from krake.kubernetes.v1 import kubernetes_service_pb2 as api
from krake.kubernetes.v1 import kubernetes_service_pb2_grpc
from krake_api import errors, registry, server
from krake_api.identity import Caller
from krake_api.metrics import Metrics
from krake_api.services.chain import Call, Chain
from krake_api.storage import open_store
from krake_api.watch.streams import WatchCaches
from krake_testing.examples import example

DEADLINE = 30.0
APP = registry.KINDS["Application"]


@dataclass
class Gate:
    """An interceptor: records calls, names the caller, refuses some verbs."""

    caller: Caller = field(default_factory=lambda: Caller("alice", ("developers",)))
    refuse: str = "delete"
    crash: str = ""
    seen: list[tuple[str, str]] = field(default_factory=list)

    async def __call__(self, call: Call, request: Message) -> None:
        self.seen.append((call.verb, call.kind))
        if call.verb == self.crash:
            raise RuntimeError("a bug in an interceptor")
        call.caller = self.caller
        if call.verb == self.refuse:
            raise errors.PermissionDenied(f"{call.caller.user} may not {call.verb}")


@dataclass
class Server:
    stub: kubernetes_service_pb2_grpc.KubernetesServiceStub
    gate: Gate
    finished: list[Call]
    metrics: Metrics
    caches: WatchCaches


@pytest.fixture
async def running(tmp_path: pathlib.Path) -> AsyncIterator[Server]:
    store = await open_store(f"sqlite:///{tmp_path}/krake.db")
    caches = WatchCaches(store, bookmark_interval=60)
    gate, finished = Gate(), []
    metrics = Metrics(caches)
    chain = Chain(interceptors=(gate,), observers=(finished.append, metrics))
    grpc_server, _, port = server.build(store, "127.0.0.1:0", caches, chain)
    await grpc_server.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield Server(
            kubernetes_service_pb2_grpc.KubernetesServiceStub(channel),
            gate,
            finished,
            metrics,
            caches,
        )
    await grpc_server.stop(None)
    await caches.close()
    await store.close()


def create_request(name: str) -> api.CreateApplicationRequest:
    app = example(APP, name=name, namespace="testing")
    return api.CreateApplicationRequest(namespace="testing", application=app)


async def test_interceptors_admit_or_refuse_and_observers_see_every_outcome(
    running: Server,
) -> None:
    await running.stub.CreateApplication(create_request("web"), timeout=DEADLINE)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await running.stub.DeleteApplication(
            api.DeleteApplicationRequest(namespace="testing", name="web"), timeout=DEADLINE
        )
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert refused.value.details() == "alice may not delete"
    kept = await running.stub.GetApplication(
        api.GetApplicationRequest(namespace="testing", name="web"), timeout=DEADLINE
    )
    assert not kept.metadata.HasField("deleted")  # a refused call changes nothing
    assert running.gate.seen == [
        ("create", "Application"),
        ("delete", "Application"),
        ("get", "Application"),
    ]
    assert [(c.rpc, c.code, c.caller.user) for c in running.finished] == [
        ("CreateApplication", grpc.StatusCode.OK, "alice"),
        ("DeleteApplication", grpc.StatusCode.PERMISSION_DENIED, "alice"),
        ("GetApplication", grpc.StatusCode.OK, "alice"),
    ]


async def test_the_caller_an_interceptor_names_reaches_the_verbs(running: Server) -> None:
    with structlog.testing.capture_logs() as logs:
        await running.stub.CreateApplication(create_request("audited"), timeout=DEADLINE)
    (audit,) = [line for line in logs if line["event"] == "audit"]
    assert (audit["user"], audit["verb"], audit["name"]) == ("alice", "create", "audited")


async def test_request_ids_are_kept_or_made_and_sent_back(running: Server) -> None:
    sent = running.stub.CreateApplication(
        create_request("a"), metadata=(("x-request-id", "trace-7"),), timeout=DEADLINE
    )
    made = running.stub.CreateApplication(
        create_request("b"), metadata=(("x-request-id", "x" * 500),), timeout=DEADLINE
    )
    await asyncio.gather(sent, made)
    assert dict(await sent.trailing_metadata())["x-request-id"] == "trace-7"
    uuid.UUID(dict(await made.trailing_metadata())["x-request-id"])  # too long: replaced
    assert sorted(c.request_id for c in running.finished)[1] == "trace-7"


async def test_errors_and_watches_carry_the_request_id_too(running: Server) -> None:
    bad = create_request("Not_A_Name")
    call = running.stub.CreateApplication(bad, metadata=(("x-request-id", "bad-1"),))
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await call
    trailing = dict(await call.trailing_metadata())
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert trailing["x-request-id"] == "bad-1"
    assert "grpc-status-details-bin" in trailing  # the BadRequest is kept beside it
    watch = running.stub.WatchApplications(
        api.WatchApplicationsRequest(namespace="testing"), metadata=(("x-request-id", "w-1"),)
    )
    assert dict(await watch.initial_metadata())["x-request-id"] == "w-1"  # before any event
    watch.cancel()


async def test_a_bug_answers_internal_with_the_request_id_only(running: Server) -> None:
    running.gate.crash = "create"
    call = running.stub.CreateApplication(create_request("c"), timeout=DEADLINE)
    with pytest.raises(grpc.aio.AioRpcError) as failed:
        await call
    request_id = dict(await call.trailing_metadata())["x-request-id"]
    assert failed.value.code() == grpc.StatusCode.INTERNAL
    assert failed.value.details() == f"internal error; the server log has request {request_id}"
    async with asyncio.timeout(DEADLINE):  # abort sends the status before observers run
        while not running.finished:
            await asyncio.sleep(0.01)
    assert running.finished[-1].code == grpc.StatusCode.INTERNAL


def gauge(metrics: Metrics, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(metrics.render().decode()):
        for sample in family.samples:
            if sample.name == name and labels.items() <= sample.labels.items():
                return sample.value
    raise AssertionError(f"no sample {name} {labels}")


async def test_watches_are_counted_while_open_and_observed_when_cancelled(
    running: Server,
) -> None:
    await running.stub.CreateApplication(create_request("seen"), timeout=DEADLINE)
    watch = running.stub.WatchApplications(api.WatchApplicationsRequest(namespace="testing"))
    assert (await watch.read()).object.metadata.name == "seen"
    assert gauge(running.metrics, "krake_api_watchers", kind="Application") == 1.0
    watch.cancel()
    async with asyncio.timeout(DEADLINE):
        while not running.finished or running.finished[-1].rpc != "WatchApplications":
            await asyncio.sleep(0.01)
    last = running.finished[-1]
    assert (last.code, last.messages) == (grpc.StatusCode.CANCELLED, 1)
    assert gauge(running.metrics, "krake_api_watchers", kind="Application") == 0.0
    assert (
        gauge(
            running.metrics,
            "krake_api_requests_total",
            method="WatchApplications",
            code="CANCELLED",
        )
        == 1.0
    )


async def test_the_watch_cache_lag_is_observed_per_write(running: Server) -> None:
    """Every write the cache applies is one observation of the time from the object's
    `modified` stamp to the cache: small on one machine, never negative."""
    lag = "krake_api_watch_cache_lag_seconds_count"
    await running.caches.cache(APP).ready.wait()
    for name in ("lag-a", "lag-b"):
        await running.stub.CreateApplication(create_request(name), timeout=DEADLINE)
    async with asyncio.timeout(DEADLINE):  # the cache applies the writes after they return
        while f'{lag}{{kind="Application"}} 2.0' not in running.metrics.render().decode():
            await asyncio.sleep(0.01)
    assert gauge(running.metrics, lag, kind="Application") == 2.0
    total = gauge(running.metrics, "krake_api_watch_cache_lag_seconds_sum", kind="Application")
    assert 0.0 <= total < 2 * DEADLINE
