"""HTTP handlers: discovery routes plus ONE resource route, dispatched through a table
from (method, names an object, subresource) to an operation over `verbs.Api`.

Query parameters understood: labelSelector, fieldSelector, limit, continue, watch,
resourceVersion, allowWatchBookmarks, timeoutSeconds, fieldManager, force, dryRun
(`All`: validate and answer, store nothing), propagationPolicy; others are ignored.
The default field manager is the User-Agent up to its first `/`, as in Kubernetes.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

import yaml
from aiohttp import web

from krake_testing.kube import discovery, errors, paths, selectors, verbs, watches
from krake_testing.kube.paths import Target
from krake_testing.kube.verbs import Api

TRUE: Final = ("true", "1")
Operation = Callable[["Handlers", web.Request, Target], Awaitable[web.StreamResponse]]


def respond(body: Mapping[str, Any], status: int = 200) -> web.Response:
    return web.json_response(body, status=status)


def _manager(request: web.Request) -> str:
    given = request.query.get("fieldManager")
    if given:
        return given[:128]
    return request.headers.get("User-Agent", "unknown").split("/", 1)[0][:128]


def _dry_run(request: web.Request) -> bool:
    return request.query.get("dryRun") == "All"


async def _body(request: web.Request) -> Any:
    raw = await request.read()
    if not raw:
        return {}
    try:
        if "yaml" in request.content_type:
            return yaml.safe_load(raw)
        return json.loads(raw)
    except (ValueError, yaml.YAMLError) as error:
        raise errors.BadRequest(f"invalid request body: {error}") from None


def _int(request: web.Request, name: str) -> int:
    try:
        return int(request.query.get(name) or 0)
    except ValueError:
        raise errors.BadRequest(f"{name} must be an integer") from None


class Handlers:
    """The routes of one fake cluster; `address` is what `/api` advertises."""

    def __init__(self, api: Api, *, address: Callable[[], str], bookmark_interval: float) -> None:
        self.api = api
        self.address = address
        self.bookmark_interval = bookmark_interval

    def routes(self) -> list[web.RouteDef]:
        """Discovery paths with and without a trailing slash (clients use both)."""
        fixed = {
            "/version": self.version,
            "/healthz": self.healthy,
            "/livez": self.healthy,
            "/readyz": self.healthy,
            "/api": self.core,
            "/apis": self.groups,
            "/apis/{group}": self.group,
        }
        return [
            *(
                web.get(path + slash, handler)
                for path, handler in fixed.items()
                for slash in ("/",)
            ),
            *(web.get(path, handler) for path, handler in fixed.items()),
            web.route("*", "/api/{version}{tail:.*}", self.resource),
            web.route("*", "/apis/{group}/{version}{tail:.*}", self.resource),
        ]

    async def version(self, request: web.Request) -> web.Response:
        return respond(discovery.version())

    async def healthy(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def core(self, request: web.Request) -> web.Response:
        return respond(discovery.core_versions(self.address()))

    async def groups(self, request: web.Request) -> web.Response:
        return respond(discovery.group_list(self.api.kinds))

    async def group(self, request: web.Request) -> web.Response:
        found = discovery.group(self.api.kinds, request.match_info["group"])
        if found is None:
            raise errors.NotFound("the server could not find the requested resource")
        return respond(found)

    async def resource(self, request: web.Request) -> web.StreamResponse:
        group = request.match_info.get("group", "")
        version, tail = request.match_info["version"], request.match_info["tail"]
        if not tail.strip("/"):
            listed = discovery.resource_list(self.api.kinds, group, version)
            if listed is None or request.method != "GET":
                raise errors.NotFound("the server could not find the requested resource")
            return respond(listed)
        target = paths.resolve(self.api.kinds, group, version, tail)
        key = (request.method, target.name is not None, target.subresource)
        operation = OPERATIONS.get(key)
        if operation is None or (
            target.namespace is None and target.kind.namespaced and key != READ_ALL
        ):
            raise errors.MethodNotAllowed(f"{request.method} is not supported on {request.path}")
        return await operation(self, request, target)

    # Operations, one per row of OPERATIONS.

    async def list_or_watch(self, request: web.Request, target: Target) -> web.StreamResponse:
        query, kind = request.query, target.kind
        if target.watch or query.get("watch") in TRUE:
            timeout = query.get("timeoutSeconds")
            watch = watches.Watch(
                kind=kind,
                namespace=target.namespace,
                resource_version=query.get("resourceVersion", ""),
                labels=selectors.labels(query.get("labelSelector", "")),
                fields=selectors.fields(kind, query.get("fieldSelector", "")),
                bookmarks=query.get("allowWatchBookmarks") in TRUE,
                timeout=float(timeout) if timeout else None,
            )
            return await watches.serve(
                request, self.api.store, watch, bookmark_interval=self.bookmark_interval
            )
        listed = self.api.list(
            kind,
            target.namespace,
            label_selector=query.get("labelSelector", ""),
            field_selector=query.get("fieldSelector", ""),
            limit=_int(request, "limit"),
            token=query.get("continue", ""),
        )
        return respond(listed)

    async def get(self, request: web.Request, target: Target) -> web.StreamResponse:
        return respond(self.api.get(target.kind, target.namespace, _name(target)))

    async def create(self, request: web.Request, target: Target) -> web.StreamResponse:
        created = self.api.create(
            target.kind,
            target.namespace,
            await _body(request),
            manager=_manager(request),
            dry_run=_dry_run(request),
        )
        return respond(created, 201)

    async def replace(self, request: web.Request, target: Target) -> web.StreamResponse:
        replaced = self.api.replace(
            target.kind,
            target.namespace,
            _name(target),
            await _body(request),
            manager=_manager(request),
            dry_run=_dry_run(request),
            status=target.subresource == "status",
        )
        return respond(replaced)

    async def patch(self, request: web.Request, target: Target) -> web.StreamResponse:
        patched, created = self.api.patch(
            target.kind,
            target.namespace,
            _name(target),
            request.content_type,
            await request.read(),
            manager=(
                request.query.get("fieldManager", "")
                if request.content_type == verbs.APPLY_PATCH
                else _manager(request)
            ),
            force=request.query.get("force") in TRUE,
            dry_run=_dry_run(request),
            status=target.subresource == "status",
        )
        return respond(patched, 201 if created else 200)

    async def delete(self, request: web.Request, target: Target) -> web.StreamResponse:
        options = await _body(request)
        if "propagationPolicy" in request.query:
            options["propagationPolicy"] = request.query["propagationPolicy"]
        deleted = self.api.delete(
            target.kind, target.namespace, _name(target), options=options, dry_run=_dry_run(request)
        )
        return respond(deleted)

    async def delete_collection(self, request: web.Request, target: Target) -> web.StreamResponse:
        options = await _body(request)
        listed = self.api.list(
            target.kind,
            target.namespace,
            label_selector=request.query.get("labelSelector", ""),
            field_selector=request.query.get("fieldSelector", ""),
        )
        for item in listed["items"]:
            meta = item["metadata"]
            self.api.delete(target.kind, meta.get("namespace"), meta["name"], options=options)
        return respond(errors.success({"group": target.kind.group, "kind": target.kind.plural}))


def _name(target: Target) -> str:
    assert target.name is not None
    return target.name


READ_ALL: Final = ("GET", False, None)
OPERATIONS: Final[Mapping[tuple[str, bool, str | None], Operation]] = {
    READ_ALL: Handlers.list_or_watch,
    ("POST", False, None): Handlers.create,
    ("DELETE", False, None): Handlers.delete_collection,
    ("GET", True, None): Handlers.get,
    ("PUT", True, None): Handlers.replace,
    ("PATCH", True, None): Handlers.patch,
    ("DELETE", True, None): Handlers.delete,
    ("GET", True, "status"): Handlers.get,
    ("PUT", True, "status"): Handlers.replace,
    ("PATCH", True, "status"): Handlers.patch,
}
