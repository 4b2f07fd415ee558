"""`krake-api`: composition only: Store -> registry -> services -> grpc.aio server.

Flags also read `KRAKE_*` environment variables (`KRAKE_STORAGE`, ...). SIGTERM and
SIGINT drain: the health service reports NOT_SERVING, the server stops accepting
and gives in-flight calls `--grace` seconds, then storage is closed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Sequence

import grpc
import grpc.aio
import structlog
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from krake_api import registry
from krake_api.services import handlers
from krake_api.storage import open_store
from krake_api.storage.base import Store
from krake_api.watch.streams import WatchCaches

log = structlog.get_logger(__name__)
MAX_MESSAGE = 4 * 1024 * 1024  # gRPC's own cap; requests > 1.5 MiB get INVALID_ARGUMENT


def build(
    store: Store, address: str, caches: WatchCaches
) -> tuple[grpc.aio.Server, health.aio.HealthServicer, int]:
    """A gRPC server with every Krake service, reflection and health, bound to
    `address` (port 0 picks a free one); returns the port it got."""
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE),
            ("grpc.max_send_message_length", -1),
        ]
    )
    server.add_generic_rpc_handlers(handlers.handlers(store, caches))
    status = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(status, server)
    names = [s.full_name for s in registry.SERVICES]
    reflection.enable_server_reflection(
        [*names, reflection.SERVICE_NAME, health.SERVICE_NAME], server
    )
    port = server.add_insecure_port(address)
    if port == 0:
        raise SystemExit(f"krake-api: cannot listen on {address}")
    return server, status, port


async def serve(storage: str, address: str, grace: float, bookmark_interval: float) -> None:
    store = await open_store(storage)
    caches = WatchCaches(store, bookmark_interval=bookmark_interval)
    server, status, port = build(store, address, caches)
    for kind in registry.KINDS.values():
        caches.cache(kind)  # history for resumes starts now, not at the first watch
    await server.start()
    for name in ["", *(s.full_name for s in registry.SERVICES)]:
        await status.set(name, health_pb2.HealthCheckResponse.SERVING)
    host = address.rsplit(":", 1)[0]
    log.info("api.listening", grpc=f"{host}:{port}", storage=storage)
    print(f"krake-api: gRPC on {host}:{port}, storage {storage}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("api.draining", grace=grace)
    await status.enter_graceful_shutdown()
    await server.stop(grace)
    await caches.close()
    await store.close()
    log.info("api.stopped")


def parse(argv: Sequence[str]) -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(prog="krake-api", description="Krake's API server")
    parser.add_argument(
        "--storage",
        default=env("KRAKE_STORAGE", "sqlite:///./krake.db"),
        help="sqlite:///PATH or etcd://HOST:PORT[,HOST:PORT...] (env KRAKE_STORAGE)",
    )
    parser.add_argument(
        "--grpc-address",
        default=env("KRAKE_GRPC_ADDRESS", "127.0.0.1:50051"),
        help="HOST:PORT for gRPC (env KRAKE_GRPC_ADDRESS)",
    )
    parser.add_argument(
        "--grace",
        type=float,
        default=float(env("KRAKE_GRACE", "10")),
        help="seconds in-flight calls get on SIGTERM (env KRAKE_GRACE)",
    )
    parser.add_argument(
        "--bookmark-interval",
        type=float,
        default=float(env("KRAKE_BOOKMARK_INTERVAL", "10")),
        help="seconds of silence after which a watch gets a BOOKMARK (env KRAKE_BOOKMARK_INTERVAL)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse(sys.argv[1:] if argv is None else argv)
    asyncio.run(serve(args.storage, args.grpc_address, args.grace, args.bookmark_interval))
