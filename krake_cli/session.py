"""One command's connection to the API: settings from flags over the configuration
file's context, and `run()`, which opens the channel, checks the API answers,
runs the command's coroutine with a typed client and closes the channel.

The API answering is checked first (a health check with a short deadline), so an
unreachable API is reported, with its address, within `CONNECT_TIMEOUT` seconds
instead of after the request deadline.
"""

from __future__ import annotations

import asyncio
import functools
import pathlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Concatenate, Final, ParamSpec, TypeVar

import click
import grpc
import grpc.aio
from grpc_health.v1 import health_pb2, health_pb2_grpc

from krake_cli import config, errors
from krake_controllers.runtime.client import Client, connect

T = TypeVar("T")
P = ParamSpec("P")
CONNECT_TIMEOUT: Final = 4.0
DOWN: Final = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})


@dataclass(frozen=True, slots=True)
class Settings:
    api: str
    namespace: str
    ca: str | None
    cert: str | None
    key: str | None
    token: str
    timeout: float


def resolve(params: Mapping[str, Any]) -> Settings:
    """Flags (the root command's `params`) over the chosen context, over defaults."""
    chosen = config.load(config.location(params.get("config"))).context(params.get("context"))

    def pick(flag: str, configured: str) -> str | None:
        value = params.get(flag) or configured
        return str(pathlib.Path(value).expanduser()) if value else None

    return Settings(
        api=params.get("api") or chosen.api or config.DEFAULT_API,
        namespace=chosen.namespace or config.DEFAULT_NAMESPACE,
        ca=pick("ca", chosen.ca),
        cert=pick("cert", chosen.cert),
        key=pick("key", chosen.key),
        token=token(params, chosen),
        timeout=float(params.get("request_timeout") or 10.0),
    )


def token(params: Mapping[str, Any], chosen: config.Context) -> str:
    """--token, else --token-file, else the context's token or token file."""
    if params.get("token"):
        return str(params["token"])
    path = params.get("token_file") or (None if chosen.token else chosen.token_file)
    if not path:
        return chosen.token
    try:
        return pathlib.Path(path).expanduser().read_text().strip()
    except OSError as err:
        raise errors.Failure(f"cannot read the token file {path}: {err.strerror}") from None


class Session:
    """The settings (read when first needed) and the way to call the API."""

    def __init__(self, params: Mapping[str, Any]) -> None:
        self.params = dict(params)
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = resolve(self.params)
        return self._settings

    @property
    def debug(self) -> bool:
        return bool(self.params.get("debug"))

    def namespace(self, given: str | None) -> str:
        return given or self.settings.namespace

    def run(self, work: Callable[[Client], Awaitable[T]]) -> T:
        """`work(client)` on a fresh channel; gRPC errors it lets through become one
        line naming the API's address."""
        try:
            return asyncio.run(self.call(work))
        except grpc.RpcError as err:
            if self.debug:
                raise
            raise errors.Failure(errors.explain(err, address=self.settings.api)) from None

    async def call(self, work: Callable[[Client], Awaitable[T]]) -> T:
        settings = self.settings
        channel = connect(settings.api, ca=settings.ca, cert=settings.cert, key=settings.key)
        try:
            await answering(channel, settings.api)
            return await work(Client(channel, timeout=settings.timeout, token=settings.token))
        finally:
            await channel.close()


async def answering(channel: grpc.aio.Channel, address: str) -> health_pb2.HealthCheckResponse:
    """The API's health; `errors.Failure` naming `address` if it does not answer."""
    stub = health_pb2_grpc.HealthStub(channel)
    try:
        response: health_pb2.HealthCheckResponse = await stub.Check(
            health_pb2.HealthCheckRequest(), timeout=CONNECT_TIMEOUT
        )
    except grpc.RpcError as err:
        if err.code() not in DOWN:
            return health_pb2.HealthCheckResponse()  # answering, though not to this
        detail = err.details() if err.code() != grpc.StatusCode.DEADLINE_EXCEEDED else ""
        raise errors.Failure(
            errors.unreachable(address, detail or f"no answer in {CONNECT_TIMEOUT:g}s")
        ) from None
    return response


def of(ctx: click.Context) -> Session:
    """The session of the command line `ctx` belongs to (made on first use, so that
    shell completion, which runs no callbacks, has one too)."""
    root = ctx.find_root()
    if not isinstance(root.obj, Session):
        root.obj = Session(root.params)
    return root.obj


def pass_session(command: Callable[Concatenate[Session, P], T]) -> Callable[P, T]:
    """Give a command callback the session as its first argument."""

    @functools.wraps(command)
    def callback(*args: P.args, **kwargs: P.kwargs) -> T:
        return command(of(click.get_current_context()), *args, **kwargs)

    return callback
