"""How the gateway calls an RPC: the `Backend` interface and its loopback gRPC form.

A backend calls an RPC by its gRPC path ("/krake.kubernetes.v1.KubernetesService/
GetApplication"): `unary` returns the response message, `stream` yields the
messages of a server stream. Every failure is a `StatusError` carrying the
`google.rpc.Status` (code, message, details such as `google.rpc.BadRequest`).
Closing a stream (`aclose()`, which the gateway always does) cancels the call.

`ChannelBackend` goes over a gRPC channel, normally a loopback one to the same
process's server; another backend may call the services in-process.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterable, Mapping
from typing import Any, Protocol

import grpc
import grpc.aio
from google.protobuf.descriptor import ServiceDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from google.rpc import status_pb2
from grpc_status import rpc_status

from krake_api import registry
from krake_api.gateway.statuses import StatusError

CHANNEL_OPTIONS = (
    ("grpc.max_receive_message_length", -1),  # a list of thousands of objects is fine
    ("grpc.max_send_message_length", -1),  # the server refuses > 1.5 MiB with a status
    # An INVALID_ARGUMENT for a large object can carry hundreds of field violations:
    # its trailers exceed gRPC's default 16 KiB, which would turn it into RESOURCE_EXHAUSTED.
    ("grpc.max_metadata_size", 8 * 1024 * 1024),
    ("grpc.absolute_max_metadata_size", 8 * 1024 * 1024),
)


class Backend(Protocol):
    async def unary(self, rpc: str, request: Message) -> Message:
        """The response of a unary RPC; `StatusError` if it fails."""
        ...

    def stream(self, rpc: str, request: Message) -> AsyncGenerator[Message, None]:
        """The messages of a server-streaming RPC; `StatusError` if it fails."""
        ...


def status_of(err: grpc.aio.AioRpcError) -> status_pb2.Status:
    """The call's `google.rpc.Status` with its details, or one made of code and text."""
    try:
        status = rpc_status.from_call(err)
    except ValueError:  # trailers that contradict the call's code: trust the code
        status = None
    if status is None:
        code = err.code() or grpc.StatusCode.UNKNOWN
        status = status_pb2.Status(code=code.value[0], message=err.details() or code.name)
    return status


class ChannelBackend:
    """Calls the RPCs of `services` over `channel`."""

    def __init__(
        self, channel: grpc.aio.Channel, services: Iterable[ServiceDescriptor] = registry.SERVICES
    ) -> None:
        self.channel = channel
        self._unary: dict[str, Any] = {}
        self._stream: dict[str, Any] = {}
        for service in services:
            for method in service.methods:
                path = f"/{service.full_name}/{method.name}"
                table = self._stream if method.server_streaming else self._unary
                factory = channel.unary_stream if method.server_streaming else channel.unary_unary
                table[path] = factory(
                    path,
                    request_serializer=_serialize,
                    response_deserializer=GetMessageClass(method.output_type).FromString,
                )

    @classmethod
    def connect(
        cls, target: str, services: Iterable[ServiceDescriptor] = registry.SERVICES
    ) -> ChannelBackend:
        """A backend over a new insecure channel to `target` (HOST:PORT)."""
        return cls(grpc.aio.insecure_channel(target, options=CHANNEL_OPTIONS), services)

    async def close(self) -> None:
        await self.channel.close()

    async def unary(self, rpc: str, request: Message) -> Message:
        try:
            response: Message = await _lookup(self._unary, rpc)(request)
        except grpc.aio.AioRpcError as err:
            raise StatusError(status_of(err)) from None
        return response

    async def stream(self, rpc: str, request: Message) -> AsyncGenerator[Message, None]:
        call = _lookup(self._stream, rpc)(request)
        try:
            async for message in call:
                yield message
        except grpc.aio.AioRpcError as err:
            raise StatusError(status_of(err)) from None
        finally:
            call.cancel()


def _serialize(message: Message) -> bytes:
    return message.SerializeToString()


def _lookup(table: Mapping[str, Any], rpc: str) -> Any:
    try:
        return table[rpc]
    except KeyError:
        raise StatusError.of(grpc.StatusCode.UNIMPLEMENTED, f"no RPC {rpc}") from None
