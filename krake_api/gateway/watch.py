"""A server stream as chunked NDJSON: one JSON document per line.

Each message of the stream is one line, `{"type": "ADDED", "object": {...}}` for
watch events (BOOKMARKs included); a stream that fails ends with the line
`{"type": "ERROR", "object": {"code", "message", "details"}}`. The response status
is 200 once the headers are out, so errors after that (a watch too old: code 11,
OUT_OF_RANGE) only appear in that last line, as in Kubernetes.

Invariant: the RPC lives no longer than the HTTP connection. aiohttp does not
cancel a handler whose client went away (unless the runner has
`handler_cancellation=True`), and a silent watch would never notice from a write,
so the handler checks the connection every `POLL` seconds and cancels the RPC
as soon as it is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator
from typing import Final

import grpc
import structlog
from aiohttp import web
from google.protobuf.message import Message

from krake_api import structs
from krake_api.gateway import json_codec, statuses
from krake_api.gateway.statuses import StatusError

log = structlog.get_logger(__name__)
CONTENT_TYPE: Final = "application/x-ndjson"
POLL: Final = 0.05
"""Seconds between checks that the client is still connected."""


def error_line(err: StatusError) -> bytes:
    return json_codec.dumps({"type": "ERROR", "object": statuses.body(err.status)}) + b"\n"


async def respond(
    request: web.Request, messages: AsyncGenerator[Message, None]
) -> web.StreamResponse:
    """Stream `messages` to the client until the stream ends or the client leaves."""
    response = web.StreamResponse(
        headers={"Content-Type": CONTENT_TYPE, "Cache-Control": "no-cache"}
    )
    response.enable_chunked_encoding()
    try:
        await response.prepare(request)
    except ConnectionError:
        await messages.aclose()
        return response
    pump = asyncio.create_task(_pump(response, messages, request.path))
    try:
        while not pump.done() and _connected(request):
            await asyncio.wait({pump}, timeout=POLL)
    finally:
        pump.cancel()
        (outcome,) = await asyncio.gather(pump, return_exceptions=True)
    if isinstance(outcome, Exception):
        log.error("gateway.stream_failed", path=request.path, error=repr(outcome))
    return response


def _connected(request: web.Request) -> bool:
    transport = request.transport
    return transport is not None and not transport.is_closing()


async def _pump(
    response: web.StreamResponse, messages: AsyncGenerator[Message, None], path: str
) -> None:
    with contextlib.suppress(ConnectionError):  # the client left: nobody to tell
        async with contextlib.aclosing(messages):
            last = await _forward(response, messages, path)
        if last:
            await response.write(last)
        await response.write_eof()


async def _forward(
    response: web.StreamResponse, messages: AsyncGenerator[Message, None], path: str
) -> bytes:
    """Write each message as a line; returns the ERROR line to end with, if any."""
    try:
        async for message in messages:
            await response.write(json_codec.dumps(structs.to_data(message)) + b"\n")
    except StatusError as err:
        return error_line(err)
    except ConnectionError:
        raise
    except Exception:
        log.exception("gateway.stream_failed", path=path)
        return error_line(StatusError.of(grpc.StatusCode.INTERNAL, "internal error"))
    return b""
