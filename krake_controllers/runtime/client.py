"""A typed client over the generated stubs, for every kind, from the registry.

`Client(channel).kind(KINDS["Application"])` gives a `KindClient` with get, list
(every page), watch, create, update, update_status, bind, delete. Every call has a
deadline (`timeout`). Reads (get, list) are retried with jittered exponential
backoff while the server is UNAVAILABLE, until the deadline; writes are never
retried here, since their outcome is unknown after a lost connection (callers
retry through their own compare-and-swap loop).

`connect()` opens the channel: plain, or TLS with a CA and optionally a client
certificate; a bearer token is sent as `authorization` metadata on every call.
"""

from __future__ import annotations

import asyncio
import pathlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import grpc
import grpc.aio
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

from krake_api import registry
from krake_api.registry import Binding, Kind
from krake_controllers.runtime.backoff import Backoff

T = TypeVar("T")
DEFAULT_TIMEOUT: Final = 10.0
LIST_PAGE: Final = 1000
RETRIED: Final = frozenset({grpc.StatusCode.UNAVAILABLE})


@dataclass(frozen=True, slots=True)
class Page:
    """Every item of a listing, and the resource_version it was read at."""

    items: list[Any]
    resource_version: str


def connect(
    address: str,
    *,
    ca: str | None = None,
    cert: str | None = None,
    key: str | None = None,
) -> grpc.aio.Channel:
    """A channel to the API: TLS when `ca` is given (and mutual TLS with cert/key)."""
    options = [
        ("grpc.max_receive_message_length", -1),
        # reconnect soon after an API server restart (gRPC's default waits up to 2 min)
        ("grpc.initial_reconnect_backoff_ms", 100),
        ("grpc.max_reconnect_backoff_ms", 2000),
    ]
    if ca is None:
        return grpc.aio.insecure_channel(address, options=options)

    def read(path: str | None) -> bytes | None:
        return pathlib.Path(path).read_bytes() if path else None

    credentials = grpc.ssl_channel_credentials(read(ca), read(key), read(cert))
    return grpc.aio.secure_channel(address, credentials, options=options)


class Client:
    """Per-kind clients sharing one channel, deadline, token and retry policy."""

    def __init__(
        self,
        channel: grpc.aio.Channel,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        token: str = "",
        backoff: Backoff | None = None,
    ) -> None:
        self.channel = channel
        self.timeout = timeout
        self.metadata: Sequence[tuple[str, str]] = (
            (("authorization", f"Bearer {token}"),) if token else ()
        )
        self.backoff = backoff or Backoff(base=0.05, cap=2.0)
        self._bindings = {(b.kind.name, b.verb): b for b in registry.bind().values()}

    def kind(self, kind: Kind) -> KindClient:
        return KindClient(self, kind)

    def binding(self, kind: Kind, verb: str) -> Binding:
        try:
            return self._bindings[(kind.name, verb)]
        except KeyError:
            raise ValueError(f"{kind.name} has no {verb!r} RPC") from None

    def serves(self, kind: Kind, verb: str) -> bool:
        return (kind.name, verb) in self._bindings

    def unary(self, kind: Kind, verb: str) -> grpc.aio.UnaryUnaryMultiCallable:
        binding = self.binding(kind, verb)
        return self.channel.unary_unary(
            binding.method_path,
            request_serializer=GetMessageClass(binding.method.input_type).SerializeToString,
            response_deserializer=GetMessageClass(binding.method.output_type).FromString,
        )

    def request(self, kind: Kind, verb: str, **fields: Any) -> Any:
        return GetMessageClass(self.binding(kind, verb).method.input_type)(**fields)

    async def retried(self, call: Callable[[float], Awaitable[T]]) -> T:
        """`call(remaining_seconds)` until it succeeds, fails otherwise, or the deadline."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        attempt = 0
        while True:
            try:
                return await call(max(deadline - loop.time(), 0.001))
            except grpc.aio.AioRpcError as err:
                pause = self.backoff.delay(attempt)
                if err.code() not in RETRIED or loop.time() + pause >= deadline:
                    raise
            attempt += 1
            await asyncio.sleep(pause)


class KindClient:
    def __init__(self, client: Client, kind: Kind) -> None:
        self.client, self.kind = client, kind

    def _where(self, namespace: str) -> dict[str, str]:
        return {"namespace": namespace} if self.kind.namespaced else {}

    async def _call(self, verb: str, request: Message, *, retry: bool = False) -> Any:
        rpc = self.client.unary(self.kind, verb)

        async def attempt(timeout: float) -> Any:
            return await rpc(request, timeout=timeout, metadata=self.client.metadata)

        if retry:
            return await self.client.retried(attempt)
        return await attempt(self.client.timeout)

    async def get(self, namespace: str, name: str) -> Any:
        request = self.client.request(self.kind, "get", name=name, **self._where(namespace))
        return await self._call("get", request, retry=True)

    async def list(
        self, namespace: str = "", *, label_selector: str = "", field_selector: str = ""
    ) -> Page:
        """Every page, all read at the first page's resource_version."""
        items: list[Any] = []
        token = ""
        while True:
            request = self.client.request(
                self.kind,
                "list",
                label_selector=label_selector,
                field_selector=field_selector,
                page_size=LIST_PAGE,
                page_token=token,
                **self._where(namespace),
            )
            page = await self._call("list", request, retry=True)
            items.extend(page.items)
            token = page.next_page_token
            if not token:
                return Page(items, page.resource_version)

    def watch(
        self,
        namespace: str = "",
        *,
        resource_version: str = "",
        label_selector: str = "",
        field_selector: str = "",
    ) -> grpc.aio.UnaryStreamCall:
        """An open watch stream (no deadline: it lives until cancelled)."""
        binding = self.client.binding(self.kind, "watch")
        rpc = self.client.channel.unary_stream(
            binding.method_path,
            request_serializer=GetMessageClass(binding.method.input_type).SerializeToString,
            response_deserializer=GetMessageClass(binding.method.output_type).FromString,
        )
        request = self.client.request(
            self.kind,
            "watch",
            resource_version=resource_version,
            label_selector=label_selector,
            field_selector=field_selector,
            **self._where(namespace),
        )
        return rpc(request, metadata=self.client.metadata)

    async def create(self, obj: Any) -> Any:
        fields = {self.kind.field: obj, **self._where(obj.metadata.namespace)}
        return await self._call("create", self.client.request(self.kind, "create", **fields))

    async def update(self, obj: Any) -> Any:
        request = self.client.request(self.kind, "update", **{self.kind.field: obj})
        return await self._call("update", request)

    async def update_status(self, obj: Any) -> Any:
        request = self.client.request(self.kind, "update_status", **{self.kind.field: obj})
        return await self._call("update_status", request)

    async def delete(
        self, namespace: str, name: str, *, propagation: int = 0, resource_version: str = ""
    ) -> Any:
        request = self.client.request(
            self.kind,
            "delete",
            name=name,
            propagation=propagation,
            resource_version=resource_version,
            **self._where(namespace),
        )
        return await self._call("delete", request)

    async def events(self, namespace: str = "", **options: str) -> AsyncIterator[Any]:
        """The watch stream's events until it ends (an error raises AioRpcError)."""
        call = self.watch(namespace, **options)
        try:
            async for event in call:
                yield event
        finally:
            call.cancel()


async def unless_gone(call: Awaitable[T]) -> T | None:
    """`call`'s result, or None when its object is gone already (NOT_FOUND)."""
    try:
        return await call
    except grpc.aio.AioRpcError as err:
        if err.code() != grpc.StatusCode.NOT_FOUND:
            raise
        return None
