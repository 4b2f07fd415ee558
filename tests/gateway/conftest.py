"""The gateway on a free loopback port, in front of a real API server (over the
`store` backends) or of the echo service's fake backend; and an HTTP client."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from gateway_echo import ECHO, EchoBackend, RecordingBackend
from gateway_support import DEADLINE, Serve

from krake_api.gateway import ChannelBackend, add_routes
from krake_api.gateway.inprocess import InProcessBackend
from krake_api.services.handlers import method_handlers
from krake_api.storage.base import Store
from krake_api.watch.streams import WatchCaches


@pytest.fixture
def unique() -> str:
    """A name no other test uses (the etcd server lives for the whole session)."""
    return f"gw-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Start an aiohttp application on a free loopback port; returns its base URL."""
    runners: list[web.AppRunner] = []

    async def start(app: web.Application) -> str:
        runner = web.AppRunner(app, shutdown_timeout=1.0)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        runners.append(runner)
        host, port = runner.addresses[0][:2]
        return f"http://{host}:{port}"

    yield start
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def backend(store: Store, caches: WatchCaches, api_target: str) -> InProcessBackend:
    """The backend `krake-api` uses: the handlers called in-process (the gRPC server
    at `api_target` runs too, for tests that also speak gRPC)."""
    return InProcessBackend(method_handlers(store, caches))


@pytest.fixture
async def loopback(api_target: str) -> AsyncIterator[ChannelBackend]:
    opened = ChannelBackend.connect(api_target)
    yield opened
    await opened.close()


@pytest.fixture
async def gateway(backend: InProcessBackend, serve: Serve) -> str:
    """Base URL of the gateway in front of the real API server."""
    app = web.Application()
    add_routes(app, backend)
    return await serve(app)


@pytest.fixture
def recorder() -> RecordingBackend:
    return RecordingBackend()


@pytest.fixture
async def offline(recorder: RecordingBackend, serve: Serve) -> str:
    """Base URL of a gateway with Krake's routes whose backend only records calls:
    for what the gateway must answer by itself."""
    app = web.Application()
    add_routes(app, recorder)
    return await serve(app)


@pytest.fixture
def echo_backend() -> EchoBackend:
    return EchoBackend()


@pytest.fixture
async def echo(echo_backend: EchoBackend, serve: Serve) -> str:
    """Base URL of a gateway serving only the test echo service, with a fake backend."""
    app = web.Application()
    add_routes(app, echo_backend, services=[ECHO])
    return await serve(app)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    timeout = aiohttp.ClientTimeout(total=DEADLINE * 3)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        yield session
