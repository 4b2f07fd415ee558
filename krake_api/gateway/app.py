"""The HTTP side: aiohttp handlers that route, transcode, call the backend, answer.

`add_routes(app, backend)` is the one entry point: it serves `/openapi.json` and
every path of the http rules through one catch-all route (so a 404 or 405 gets
the same JSON error body as any other error). Routes the application registers
itself (`/healthz`, `/metrics`, `GET /`) take precedence: aiohttp resolves the
most specific path first.

Every request has the same steps: match the route (404/405), read at most
`MAX_BODY` bytes (413 before anything is parsed), build the request message
(400), call the backend, and answer JSON or, for a server stream, NDJSON.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

import grpc
import structlog
from aiohttp import web
from google.protobuf.descriptor import ServiceDescriptor

from krake_api import registry, structs
from krake_api.errors import FieldViolation
from krake_api.gateway import json_codec, openapi, rules, statuses, transcoding, watch
from krake_api.gateway.backend import Backend
from krake_api.gateway.routing import WATCH, Router
from krake_api.gateway.statuses import StatusError

log = structlog.get_logger(__name__)
MAX_BODY: Final = 1536 * 1024
"""Largest request body accepted (DESIGN.md §6: 1.5 MiB, refused before parsing)."""
JSON: Final = "application/json"


class Gateway:
    def __init__(
        self, backend: Backend, services: Iterable[ServiceDescriptor], *, version: str
    ) -> None:
        self.backend = backend
        self.routes = rules.routes(services)
        self.router = Router(self.routes)
        self.version = version
        self._openapi: bytes | None = None

    async def openapi(self, request: web.Request) -> web.Response:
        """The OpenAPI document, built on the first request (start-up stays fast)."""
        if self._openapi is None:
            document = openapi.document(self.routes, title="Krake API", version=self.version)
            self._openapi = json_codec.dumps(document)
        return web.Response(body=self._openapi, content_type=JSON)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        try:
            return await self._handle(request)
        except StatusError as err:
            return error_response(err)
        except Exception:
            log.exception("gateway.failed", method=request.method, path=request.path)
            return error_response(StatusError.of(grpc.StatusCode.INTERNAL, "internal error"))

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        url = request.rel_url
        match = self.router.match(request.method, url.raw_path, watch=WATCH in url.query)
        route = match.route
        body = await read_body(request)
        message = transcoding.request(route, match.variables, url.query.items(), body)
        if route.streaming:
            return await watch.respond(request, self.backend.stream(route.rpc, message))
        response = await self.backend.unary(route.rpc, message)
        data = structs.to_data(response)
        if route.response_body:
            for name in route.response_body.split("."):
                data = data.get(name) if isinstance(data, dict) else None
        return web.Response(body=json_codec.dumps(data), content_type=JSON)


def error_response(err: StatusError) -> web.Response:
    if err.http >= 500:
        log.warning("gateway.error", code=err.code.name, message=err.status.message)
    return web.Response(
        status=err.http,
        body=json_codec.dumps(statuses.body(err.status)),
        content_type=JSON,
        headers=err.headers,
    )


async def read_body(request: web.Request) -> bytes:
    """The request body, refused with 413 as soon as it exceeds `MAX_BODY`, whatever
    the application's own `client_max_size`."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise _too_large(request.content_length)
    chunks, size = [], 0
    async for chunk in request.content.iter_any():
        size += len(chunk)
        if size > MAX_BODY:
            raise _too_large(size)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(size: int) -> StatusError:
    problem = f"request body of {size} bytes or more is over the {MAX_BODY}-byte (1.5 MiB) limit"
    return StatusError.invalid([FieldViolation("<body>", problem)], http=413)


def add_routes(
    app: web.Application,
    backend: Backend,
    *,
    services: Iterable[ServiceDescriptor] = registry.SERVICES,
    version: str = "v1",
) -> Gateway:
    """Serve every http rule of `services` through `backend`, and `/openapi.json`."""
    gateway = Gateway(backend, services, version=version)
    app.router.add_get("/openapi.json", gateway.openapi)
    app.router.add_route("*", r"/{tail:[\s\S]+}", gateway.handle)  # "." stops at "\n"
    return gateway
