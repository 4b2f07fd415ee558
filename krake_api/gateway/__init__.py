"""The HTTP/JSON gateway (issue 5): curl speaks to the gRPC services.

Routes come from the `google.api.http` rules of the service descriptors; nothing
is written per method. Wire it into an aiohttp application with
`add_routes(app, backend)`, where `backend` calls the RPCs (`ChannelBackend` over a
loopback gRPC channel). Modules: `templates` (path templates), `rules` (http rules
-> routes), `routing` (404/405, List vs Watch), `transcoding` (HTTP request ->
request message), `shapes` (unknown fields, wrong JSON types), `json_codec` (JSON
<-> messages), `statuses` (gRPC code -> HTTP status, error body), `backend`,
`watch` (NDJSON streams), `schemas` and `openapi` (the OpenAPI 3.1 document),
`app` (the aiohttp handlers).
"""

from krake_api.gateway.app import MAX_BODY, Gateway, add_routes
from krake_api.gateway.backend import Backend, ChannelBackend
from krake_api.gateway.statuses import HTTP_STATUS, StatusError

__all__ = [
    "HTTP_STATUS",
    "MAX_BODY",
    "Backend",
    "ChannelBackend",
    "Gateway",
    "StatusError",
    "add_routes",
]
