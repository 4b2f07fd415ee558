"""`InProcessBackend`: the gateway calls the gRPC handlers directly, in the same
event loop: no serialization, no HTTP/2, no gRPC threads.

The handlers run exactly as for a remote call (interceptor chain, verbs, error
table); `Context` is the part of `grpc.aio.ServicerContext` they use. An abort
becomes a `StatusError` with the `google.rpc.Status` the handler attached; a
stream's writes go through a bounded queue, so a slow HTTP client slows its
stream (and, once the watch cache's queue overflows, is cut off as over gRPC).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import Any, Final

import grpc
from google.protobuf.message import Message
from google.rpc import status_pb2

from krake_api.gateway.statuses import StatusError

STATUS_DETAILS: Final = "grpc-status-details-bin"
STREAM_BUFFER: Final = 64
_END: Final = object()


class Context:
    """What the handlers need of a servicer context, for an in-process call."""

    def __init__(self, metadata: Sequence[tuple[str, str]] = ()) -> None:
        self.metadata = tuple(metadata)
        self.sent: asyncio.Queue[Any] = asyncio.Queue(STREAM_BUFFER)

    def invocation_metadata(self) -> Sequence[tuple[str, str]]:
        return self.metadata

    def peer(self) -> str:
        return "in-process:gateway"

    def cancelled(self) -> bool:
        return False

    async def send_initial_metadata(self, metadata: Sequence[tuple[str, str]]) -> None:
        return None

    def set_trailing_metadata(self, metadata: Sequence[tuple[str, str]]) -> None:
        return None

    async def write(self, message: Message) -> None:
        await self.sent.put(message)

    async def abort(
        self, code: grpc.StatusCode, details: str = "", trailing_metadata: Any = ()
    ) -> None:
        for key, value in trailing_metadata or ():
            if key == STATUS_DETAILS:
                raise StatusError(status_pb2.Status.FromString(value))
        raise StatusError(status_pb2.Status(code=code.value[0], message=details))


class InProcessBackend:
    def __init__(self, handlers: Mapping[str, grpc.RpcMethodHandler]) -> None:
        self.handlers = handlers

    def _handler(self, rpc: str) -> grpc.RpcMethodHandler:
        handler = self.handlers.get(rpc)
        if handler is None:
            raise StatusError.of(grpc.StatusCode.UNIMPLEMENTED, f"no RPC {rpc}")
        return handler

    async def close(self) -> None:
        return None

    async def unary(self, rpc: str, request: Message) -> Message:
        response: Message = await self._handler(rpc).unary_unary(request, Context())
        return response

    async def stream(self, rpc: str, request: Message) -> AsyncGenerator[Message, None]:
        context = Context()
        behavior = self._handler(rpc).unary_stream

        async def run() -> None:
            try:
                await behavior(request, context)
            finally:
                task = asyncio.current_task()
                if task is None or not task.cancelling():  # the reader still waits
                    await context.sent.put(_END)

        task = asyncio.create_task(run())
        try:
            while (message := await context.sent.get()) is not _END:
                yield message
            await task  # a StatusError from an abort ends the stream here
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
