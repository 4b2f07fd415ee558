"""`FakeCluster`: a fake Kubernetes cluster running in its own thread and event loop,
so that synchronous clients (the official `kubernetes` client) and asynchronous tests
alike can use it, and several can run in one process on free ports.

Every method may be called from any thread except the cluster's own; each runs on the
cluster's loop and returns when done (microseconds to milliseconds), so calling one
from an async test briefly blocks that test's loop, never the cluster's.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import shutil
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Coroutine
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar

from krake_testing.kube import kubeconfig
from krake_testing.kube.context import Timing
from krake_testing.kube.kubeconfig import Auth
from krake_testing.kube.server import ClusterServer, Outage
from krake_testing.kube.store import Object

if TYPE_CHECKING:
    import kubernetes.client

T = TypeVar("T")


class FakeCluster:
    """Usage: `with FakeCluster("a") as cluster:` or `async with FakeCluster("a") as cluster:`.

    Keyword-only tuning: `host`/`port` (0: a free port), `token` (the accepted bearer
    token; generated when None), `tls` (False: plain HTTP, token auth only), `nodes`,
    `ready_delay`, `completion_delay`, `restart_interval` (see `pods`),
    `bookmark_interval` (watch bookmarks), `history` (events kept for watches),
    `directory` (for certificates and the kubeconfig; a temporary one by default)."""

    def __init__(
        self,
        name: str = "fake",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
        tls: bool = True,
        nodes: int = 1,
        ready_delay: float = 0.1,
        completion_delay: float = 0.1,
        restart_interval: float = 1.0,
        bookmark_interval: float = 1.0,
        history: int = 10_000,
        directory: Path | None = None,
    ) -> None:
        self._owned_directory = directory is None
        self.directory = directory or Path(tempfile.mkdtemp(prefix=f"fake-kube-{name}-"))
        self._timing = Timing(ready_delay, completion_delay, restart_interval)
        self.server = ClusterServer(
            name,
            host=host,
            port=port,
            token=token,
            tls=tls,
            nodes=nodes,
            timing=self._timing,
            bookmark_interval=bookmark_interval,
            history=history,
            directory=self.directory,
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopping: asyncio.Event | None = None

    # Life cycle.

    def start(self, timeout: float = 30.0) -> Self:
        """Serve; returns once the cluster listens and its kubeconfig is written."""
        ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._thread = threading.Thread(
            target=asyncio.run,
            args=(self._main(ready),),
            daemon=True,
            name=f"fake-kube-{self.name}",
        )
        self._thread.start()
        ready.result(timeout)
        kubeconfig.write(self.kubeconfig, self.kubeconfig_path)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving and end the thread; idempotent."""
        if self._loop is not None and self._stopping is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                frame = sys._current_frames().get(self._thread.ident or 0)
                stack = "".join(traceback.format_stack(frame)) if frame else "?"
                raise RuntimeError(
                    f"fake cluster {self.name} did not stop in {timeout} s:\n{stack}"
                )
            self._thread = None
        if self._owned_directory:
            shutil.rmtree(self.directory, ignore_errors=True)

    async def _main(self, ready: concurrent.futures.Future[None]) -> None:
        self._loop, self._stopping = asyncio.get_running_loop(), asyncio.Event()
        try:
            await self.server.start()
        except BaseException as error:
            ready.set_exception(error)
            return
        ready.set_result(None)
        await self._stopping.wait()
        await self.server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self, *exc: type[BaseException] | BaseException | TracebackType | None
    ) -> None:
        await asyncio.to_thread(self.stop)

    def _call(self, function: Callable[..., T], *args: Any) -> T:
        """Run `function(*args)` on the cluster's loop and return its result."""
        if self._loop is None or threading.current_thread() is self._thread:
            raise RuntimeError("call FakeCluster methods from another thread, after start()")
        done: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            try:
                done.set_result(function(*args))
            except BaseException as error:
                done.set_exception(error)

        self._loop.call_soon_threadsafe(run)
        return done.result(30.0)

    def _await(self, coroutine: Coroutine[Any, Any, T]) -> T:
        if self._loop is None:
            raise RuntimeError("the cluster is not running")
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(30.0)

    # Connecting.

    @property
    def name(self) -> str:
        return self.server.name

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def token(self) -> str:
        return self.server.token

    @property
    def kubeconfig(self) -> dict[str, Any]:
        """Kubeconfig with embedded CA and client certificate (token if `tls=False`)."""
        return self.server.kubeconfig()

    @property
    def kubeconfig_path(self) -> Path:
        """Where `kubeconfig` is written by `start()`."""
        return self.directory / "kubeconfig.yaml"

    def kubeconfig_for(self, auth: Auth) -> dict[str, Any]:
        """Kubeconfig authenticating with "certificate", "token" or "none"."""
        return self.server.kubeconfig(auth)

    def api_client(self, auth: Auth | None = None) -> kubernetes.client.ApiClient:
        """An official-client `ApiClient` for this cluster (close it when done)."""
        import kubernetes.config  # only here: importing the official client takes seconds

        config = self.server.kubeconfig(auth)
        return kubernetes.config.new_client_from_config_dict(config)  # type: ignore[no-untyped-call,no-any-return]

    # Inspecting and arranging state directly (no HTTP; writes are versioned and watched).

    @property
    def revision(self) -> int:
        """The store's current resourceVersion."""
        return self.server.store.revision

    def objects(self, kind: str, namespace: str | None = None) -> list[Object]:
        """Copies of the objects of `kind` ("Pod", "deployments", "crontabs.example.com"),
        sorted by namespace and name; `namespace` None means all namespaces."""
        return self._call(self.server.objects, kind, namespace)

    def get(self, kind: str, name: str, namespace: str | None = "default") -> Object | None:
        """A copy of one object (namespace ignored for cluster-scoped kinds), or None."""
        return self._call(self.server.get, kind, name, namespace)

    def create(self, obj: Object) -> Object:
        """Create `obj` (its apiVersion/kind select the type) as manager `krake-testing`."""

        def create() -> Object:
            kind = self.server.kinds.by_type(obj.get("apiVersion", ""), obj.get("kind", ""))
            if kind is None:
                raise KeyError(f"no resource type {obj.get('apiVersion')} {obj.get('kind')}")
            namespace = obj.get("metadata", {}).get("namespace", "default")
            return self.server.api.create(kind, namespace, obj, manager="krake-testing")

        return self._call(create)

    def patch(
        self, kind: str, name: str, patch: Object, namespace: str | None = "default"
    ) -> Object:
        """Merge-patch (RFC 7386) one object, as manager `krake-testing`: e.g. drift."""

        def merge() -> Object:
            row = self.server.kind(kind)
            body = json.dumps(patch).encode()
            merged, _ = self.server.api.patch(
                row, namespace, name, "application/merge-patch+json", body, manager="krake-testing"
            )
            return merged

        return self._call(merge)

    def delete(self, kind: str, name: str, namespace: str | None = "default") -> None:
        """Delete one object (finalizers still apply)."""
        self._call(lambda: self.server.api.delete(self.server.kind(kind), namespace, name))

    def requests(self) -> list[tuple[str, str]]:
        """(method, path with query) of the last 10,000 requests, oldest first."""
        return self._call(lambda: list(self.server.requests))

    def compact(self) -> None:
        """Forget all watch history: watches from any older resourceVersion get 410."""
        self._call(self.server.store.compact)

    # Injecting failures.

    @property
    def node_names(self) -> list[str]:
        return [n["metadata"]["name"] for n in self.objects("Node")]

    def add_node(self, name: str | None = None, labels: dict[str, str] | None = None) -> str:
        return self._call(self.server.add_node, name, labels)

    def set_node_condition(
        self,
        type_: str,
        status: bool | str,
        *,
        node: str | None = None,
        reason: str = "",
        message: str = "",
    ) -> None:
        """Set a node condition (Ready, MemoryPressure, DiskPressure, PIDPressure) to
        True/False/"Unknown" on `node` (default: the first node)."""
        value = (
            {True: "True", False: "False"}.get(status, status)
            if isinstance(status, bool)
            else status
        )
        target = node or self.node_names[0]
        self._call(self.server.set_node_condition, target, type_, value, reason, message)

    def crash_loop(self, kind: str, name: str, namespace: str | None = "default") -> None:
        """Make every pod of this Pod/Deployment/ReplicaSet/StatefulSet/DaemonSet/Job
        crash-loop (see `pods`) until `heal` is called."""
        self._call(self.server.crash_loop, kind, name, namespace, True)

    def heal(self, kind: str, name: str, namespace: str | None = "default") -> None:
        self._call(self.server.crash_loop, kind, name, namespace, False)

    def unreachable(self, mode: Outage = "refuse") -> None:
        """Drop every connection and watch, then refuse connections ("refuse") or accept
        them without ever answering ("hang"), until `reachable()`."""
        self._await(self.server.unreachable(mode))

    def reachable(self) -> None:
        self._await(self.server.reachable())

    @property
    def ready_delay(self) -> float:
        return self._timing.ready_delay

    @ready_delay.setter
    def ready_delay(self, seconds: float) -> None:
        self._timing.ready_delay = seconds
        self._call(self.server.poke)

    @property
    def completion_delay(self) -> float:
        return self._timing.completion_delay

    @completion_delay.setter
    def completion_delay(self, seconds: float) -> None:
        self._timing.completion_delay = seconds
        self._call(self.server.poke)

    @property
    def restart_interval(self) -> float:
        return self._timing.restart_interval

    @restart_interval.setter
    def restart_interval(self, seconds: float) -> None:
        self._timing.restart_interval = seconds
        self._call(self.server.poke)

    # Waiting.

    def wait_for(self, predicate: Callable[[FakeCluster], T], timeout: float = 10.0) -> T:
        """Poll `predicate(self)` until it returns something truthy (returned), or raise
        TimeoutError after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while not (result := predicate(self)):
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition not met within {timeout} s on cluster {self.name}")
            time.sleep(0.02)
        return result

    async def await_for(self, predicate: Callable[[FakeCluster], T], timeout: float = 10.0) -> T:
        """`wait_for` for async tests: polls without blocking the caller's loop."""
        deadline = time.monotonic() + timeout
        while not (result := predicate(self)):
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition not met within {timeout} s on cluster {self.name}")
            await asyncio.sleep(0.02)
        return result
