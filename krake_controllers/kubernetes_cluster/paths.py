"""GETs on a member cluster's API paths, as plain data, without the client's typed
API classes: those validate every call with pydantic and deserialize every watch
event into models (thrown away here), and importing CoreV1Api alone takes seconds.
Requests still go through the connection's `ApiClient`: its TLS, client
certificates, bearer token and timeouts apply, and its errors (`ApiException`)
are what `Connection.call` and `Connection.watch` translate.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, Final

from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException

NODES: Final = "/api/v1/nodes"
CRDS: Final = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
VERSION: Final = "/version"
GROUPS: Final = "/apis"
QUERY: Final = (
    ("watch", "watch"),
    ("resource_version", "resourceVersion"),
    ("allow_watch_bookmarks", "allowWatchBookmarks"),
    ("timeout_seconds", "timeoutSeconds"),
)


def fetch(
    api_client: ApiClient,
    path: str,
    query: Sequence[tuple[str, Any]] = (),
    *,
    preload: bool = True,
    timeout: Any = None,
) -> Any:
    """The JSON answer to GET `path` (or, if not `preload`, the open urllib3
    response, for watches); a non-2xx answer raises `ApiException`."""
    method, url, headers, body, post = api_client.param_serialize(
        "GET",
        path,
        query_params=list(query),
        header_params={"Accept": "application/json"},
        auth_settings=["BearerToken"],
    )
    response = api_client.call_api(method, url, headers, body, post, _request_timeout=timeout)
    if not 200 <= response.status <= 299:
        response.read()
        raise ApiException.from_response(http_resp=response, body=None, data=None)
    if not preload:
        return response.response
    return json.loads(response.read() or b"null")


def collection(api_client: ApiClient, path: str) -> Callable[..., Any]:
    """A list function for `path` in the client's manner: `Connection.watch` (the
    client's `Watch`) calls it with watch=True and _preload_content=False."""

    def get(
        *,
        _preload_content: bool = True,
        _request_timeout: Any = None,
        **options: Any,
    ) -> Any:
        unknown = options.keys() - {name for name, _ in QUERY}
        if unknown:
            raise TypeError(f"unexpected options {sorted(unknown)}")
        query = [(key, options[name]) for name, key in QUERY if options.get(name) is not None]
        return fetch(api_client, path, query, preload=_preload_content, timeout=_request_timeout)

    return get
