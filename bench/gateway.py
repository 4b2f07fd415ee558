"""Gateway benchmark: HTTP/JSON calls through the gateway's two backends, beside the
same calls over gRPC, from one process and one run.

One API server (sqlite in a temporary directory, or a real etcd started here) with
two gateways in front of it: `loopback` calls the services over a gRPC channel to
the same process, `in-process` calls the handlers directly. For gets and creates
at concurrency 1 and 32 it prints requests/s for plain gRPC (the baseline), each
backend, and their ratio to gRPC.

    python bench/gateway.py [--requests 2000] [--backend sqlite|etcd]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import grpc.aio
from aiohttp import web
from google.protobuf import json_format

from krake.kubernetes.v1 import kubernetes_service_pb2 as api
from krake.kubernetes.v1 import kubernetes_service_pb2_grpc
from krake_api import registry, server
from krake_api.gateway import ChannelBackend, add_routes
from krake_api.gateway.inprocess import InProcessBackend
from krake_api.services.handlers import method_handlers
from krake_api.storage import open_store
from krake_api.watch.streams import WatchCaches
from krake_testing.etcd import EtcdCluster
from krake_testing.examples import example

APP = registry.KINDS["Application"]
Call = Callable[[int], Awaitable[Any]]


async def rate(call: Call, count: int, concurrency: int) -> float:
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with gate:
            await call(i)

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(count)))
    return count / (time.perf_counter() - started)


@contextlib.asynccontextmanager
async def storage(backend: str) -> AsyncIterator[str]:
    with contextlib.ExitStack() as stack:
        if backend == "etcd":
            cluster = stack.enter_context(EtcdCluster(1, fsync=False))
            yield "etcd://" + ",".join(e.replace("http://", "") for e in cluster.endpoints)
        else:
            yield f"sqlite:///{stack.enter_context(tempfile.TemporaryDirectory())}/krake.db"


async def serve_gateway(backend: Any) -> tuple[web.AppRunner, str]:
    app = web.Application()
    add_routes(app, backend)
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


def grpc_calls(stub: Any, ns: str) -> dict[str, Call]:
    async def get(i: int) -> Any:
        return await stub.GetApplication(api.GetApplicationRequest(namespace="bench", name="app0"))

    async def create(i: int) -> Any:
        obj = example(APP, name=f"g{i}", namespace=ns)
        return await stub.CreateApplication(
            api.CreateApplicationRequest(namespace=ns, application=obj)
        )

    return {"get": get, "create": create}


def http_calls(session: aiohttp.ClientSession, base: str, ns: str) -> dict[str, Call]:
    async def get(i: int) -> Any:
        async with session.get(f"{base}/kubernetes/namespaces/bench/applications/app0") as response:
            assert response.status == 200, await response.text()
            return await response.read()

    async def create(i: int) -> Any:
        body = json_format.MessageToDict(
            example(APP, name=f"h{i}", namespace=ns), preserving_proto_field_name=True
        )
        async with session.post(
            f"{base}/kubernetes/namespaces/{ns}/applications", json=body
        ) as response:
            assert response.status == 200, await response.text()
            return await response.read()

    return {"get": get, "create": create}


async def main(args: argparse.Namespace) -> None:
    async with storage(args.backend) as url:
        store = await open_store(url)
        caches = WatchCaches(store)
        grpc_server, _, port = server.build(store, "127.0.0.1:0", caches)
        await grpc_server.start()
        loopback = ChannelBackend.connect(f"127.0.0.1:{port}")
        inprocess = InProcessBackend(method_handlers(store, caches))
        runners = [await serve_gateway(b) for b in (loopback, inprocess)]
        async with (
            grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel,
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as session,
        ):
            stub = kubernetes_service_pb2_grpc.KubernetesServiceStub(channel)
            await grpc_calls(stub, "bench")["create"](0)
            await stub.CreateApplication(
                api.CreateApplicationRequest(
                    namespace="bench", application=example(APP, "app0", "bench")
                )
            )
            print(f"backend {args.backend}, {args.requests} requests per cell; requests/s")
            print(
                f"{'':<12}{'gRPC':>10}{'loopback':>10}{'in-proc':>10}{'loop/gRPC':>11}{'in/gRPC':>9}"
            )
            for verb in ("get", "create"):
                for concurrency in (1, 32):
                    rates = []
                    for calls in (
                        grpc_calls(stub, f"{verb}-{concurrency}-grpc"),
                        http_calls(session, runners[0][1], f"{verb}-{concurrency}-loop"),
                        http_calls(session, runners[1][1], f"{verb}-{concurrency}-in"),
                    ):
                        rates.append(await rate(calls[verb], args.requests, concurrency))
                    g, loop, inp = rates
                    cells = f"{g:>10.0f}{loop:>10.0f}{inp:>10.0f}{loop / g:>11.2f}{inp / g:>9.2f}"
                    print(f"{verb} c{concurrency:<8}{cells}")
        for runner, _ in runners:
            await runner.cleanup()
        await loopback.close()
        await grpc_server.stop(None)
        await caches.close()
        await store.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--backend", choices=("sqlite", "etcd"), default="sqlite")
    asyncio.run(main(parser.parse_args()))
