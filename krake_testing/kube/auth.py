"""Authentication: a request passes with a client certificate signed by the cluster's CA
(checked by TLS) or with `Authorization: Bearer <token>` naming the cluster's token;
anything else gets 401 with an `Unauthorized` Status. Health endpoints are open.

Not modelled: authorization (every authenticated user may do everything, as
`system:masters`), impersonation, token review, anonymous access to `/version`.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Final

from aiohttp import web
from aiohttp.typedefs import Middleware

from krake_testing.kube import errors

PUBLIC: Final = frozenset({"/healthz", "/livez", "/readyz"})
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _has_certificate(request: web.Request) -> bool:
    transport = request.transport
    return bool(transport is not None and transport.get_extra_info("peercert"))


def _has_token(request: web.Request, token: str | None) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return (
        bool(token)
        and scheme.lower() == "bearer"
        and hmac.compare_digest(given.strip(), token or "")
    )


def middleware(token: str | None) -> Middleware:
    """The authenticating middleware for a cluster whose bearer token is `token`."""

    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in PUBLIC or _has_certificate(request) or _has_token(request, token):
            return await handler(request)
        raise errors.Unauthorized("Unauthorized")

    return authenticate
