"""`ClusterServer`: one fake cluster on the running event loop: the HTTP(S) listener,
store, verbs, controller manager, bootstrap objects, and the test-facing operations.

All of its methods must run on the loop that started it (`FakeCluster` marshals calls
from other threads). Bootstrap: namespaces default, kube-system, kube-public and
kube-node-lease, the `kubernetes` Service in default, and `nodes` Ready nodes named
`<cluster>-node-<n>`.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import secrets
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Final, Literal

from aiohttp import web

from krake_testing.kube import auth, certificates, errors, kubeconfig, nodes
from krake_testing.kube.context import Timing
from krake_testing.kube.faults import Faults
from krake_testing.kube.handlers import Handlers
from krake_testing.kube.kinds import Kind, Kinds
from krake_testing.kube.manager import ControllerManager
from krake_testing.kube.store import Object, Store
from krake_testing.kube.verbs import Api

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Outage = Literal["refuse", "hang"]

SYSTEM: Final = "kube-apiserver"
NAMESPACES: Final = ("default", "kube-system", "kube-public", "kube-node-lease")
MAX_BODY: Final = 3 * 1024 * 1024  # Kubernetes' request size limit


@web.middleware
async def _statuses(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every refusal leaves as a Kubernetes `Status`; unexpected errors as a 500 one."""
    try:
        return await handler(request)
    except errors.ApiError as error:
        return web.json_response(errors.status_of(error), status=error.code)
    except web.HTTPException as http:
        if http.status < 400:
            raise
        reason = errors.REASON.get(http.status, "InternalError")
        body = {
            **errors.status_of(errors.ApiError(http.reason)),
            "code": http.status,
            "reason": reason,
        }
        return web.json_response(body, status=http.status)
    except Exception as error:
        log.exception("internal error on %s %s", request.method, request.path)
        internal = errors.ApiError(f"internal error: {error!r}")
        return web.json_response(errors.status_of(internal), status=500)


class ClusterServer:
    def __init__(
        self,
        name: str = "fake",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
        tls: bool = True,
        nodes: int = 1,
        timing: Timing | None = None,
        bookmark_interval: float = 1.0,
        history: int = 10_000,
        directory: Path,
    ) -> None:
        self.name, self.host, self.port, self.tls = name, host, port, tls
        self.token = token or secrets.token_urlsafe(24)
        self.node_count = nodes
        self.timing = timing or Timing()
        self.faults = Faults()
        self.directory = directory
        self.store = Store(history=history)
        self.kinds = Kinds()
        self.api = Api(self.store, self.kinds)
        self.credentials = certificates.make(name, host) if tls else None
        self.handlers = Handlers(
            self.api,
            address=lambda: f"{self.host}:{self.port}",
            bookmark_interval=bookmark_interval,
        )
        self.requests: collections.deque[tuple[str, str]] = collections.deque(maxlen=10_000)
        self._ssl: ssl.SSLContext | None = None
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._hang: asyncio.Event | None = None
        self._manager_task: asyncio.Task[None] | None = None
        self.manager: ControllerManager | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    def kubeconfig(self, auth_: kubeconfig.Auth | None = None) -> dict[str, Any]:
        """A kubeconfig for this cluster; default credentials: client certificate with
        TLS, bearer token without."""
        chosen = auth_ or ("certificate" if self.tls else "token")
        return kubeconfig.build(self.name, self.url, self.credentials, self.token, chosen)

    async def start(self) -> None:
        if self.credentials is not None:
            self._ssl = certificates.server_context(self.credentials, self.directory)
        app = web.Application(
            middlewares=[self._record, self._gate, _statuses, auth.middleware(self.token)],
            client_max_size=MAX_BODY,
        )
        app.add_routes(self.handlers.routes())
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=1.0
        )
        await self._runner.setup()
        await self._listen()
        self._bootstrap()
        self.manager = ControllerManager(self.api, self.timing, self.faults, host=self.host)
        self._manager_task = asyncio.create_task(self.manager.run(), name=f"fake-kube-{self.name}")

    async def stop(self) -> None:
        if self._manager_task is not None:
            self._manager_task.cancel()
            await asyncio.wait([self._manager_task], timeout=5.0)
        if self._hang is not None:
            self._hang.set()
        if self._runner is not None:
            self._drop_connections()  # no TLS close handshakes to wait for
            await self._runner.cleanup()

    async def unreachable(self, mode: Outage = "refuse") -> None:
        """Cut every connection and watch; then refuse new connections ("refuse") or
        accept them and never answer ("hang")."""
        if mode == "refuse" and self._site is not None:
            await self._site.stop()
            self._site = None
        elif mode == "hang" and self._hang is None:
            self._hang = asyncio.Event()
        self._drop_connections()

    def _drop_connections(self) -> None:
        """End every watch, then reset every open connection."""
        self.store.close_subscriptions()
        server = self._runner.server if self._runner is not None else None
        for connection in list(server.connections if server is not None else ()):
            if connection.transport is not None:
                connection.transport.abort()
            connection.force_close()

    async def reachable(self) -> None:
        """Serve again, on the same address."""
        if self._hang is not None:
            self._hang.set()
            self._hang = None
        if self._site is None:
            await self._listen()

    async def _listen(self) -> None:
        assert self._runner is not None
        site = web.TCPSite(
            self._runner, self.host, self.port, ssl_context=self._ssl, reuse_address=True
        )
        await site.start()
        self._site, self.port = site, site.port

    @web.middleware
    async def _record(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self.requests.append((request.method, request.path_qs))
        return await handler(request)

    @web.middleware
    async def _gate(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if self._hang is not None:
            await self._hang.wait()
        return await handler(request)

    def _bootstrap(self) -> None:
        namespace = self.kinds.find("Namespace")
        for name in NAMESPACES:
            self.api.create(namespace, None, {"metadata": {"name": name}}, manager=SYSTEM)
        service = {
            "metadata": {
                "name": "kubernetes",
                "labels": {"component": "apiserver", "provider": "kubernetes"},
            },
            "spec": {"ports": [{"name": "https", "port": 443, "targetPort": 6443}]},
        }
        self.api.create(self.kinds.find("Service"), "default", service, manager=SYSTEM)
        for _ in range(self.node_count):
            self.add_node()

    # Test-facing operations (call on the server's loop).

    def kind(self, name: str) -> Kind:
        return self.kinds.find(name)

    def objects(self, kind: str, namespace: str | None = None) -> list[Object]:
        return self.api.list(self.kind(kind), namespace)["items"]  # type: ignore[no-any-return]

    def get(self, kind: str, name: str, namespace: str | None = None) -> Object | None:
        try:
            return self.api.get(self.kind(kind), namespace, name)
        except errors.NotFound:
            return None

    def add_node(self, name: str | None = None, labels: dict[str, str] | None = None) -> str:
        kind = self.kinds.find("Node")
        index = len(self.store.items(kind.resource)) + 1
        manifest = nodes.manifest(name or f"{self.name}-node-{index}", index)
        manifest["metadata"]["labels"].update(labels or {})
        created = self.api.create(kind, None, manifest, manager="kubelet")
        ready = {**created, "status": nodes.initial_status(manifest["metadata"]["name"], self.host)}
        self.api.update(kind, created, ready, status=True)
        return str(manifest["metadata"]["name"])

    def set_node_condition(
        self, node: str, type_: str, status: str, reason: str = "", message: str = ""
    ) -> None:
        kind = self.kinds.find("Node")
        current = self.api.get(kind, None, node)
        updated = {
            **current,
            "status": nodes.with_condition(current, type_, status, reason, message),
        }
        self.api.update(kind, current, updated, status=True)

    def crash_loop(self, kind: str, name: str, namespace: str | None, enabled: bool) -> None:
        row = self.kind(kind)
        target = (row.kind, (namespace or "default") if row.namespaced else "", name)
        (self.faults.crash_loops.add if enabled else self.faults.crash_loops.discard)(target)
        self.poke()

    def poke(self) -> None:
        if self.manager is not None:
            self.manager.poke()
