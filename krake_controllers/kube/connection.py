"""One member cluster's Kubernetes API, for asyncio controllers.

The official `kubernetes` client blocks, so each `Connection` runs its calls on its
own small thread pool (never the event loop's default executor, which a few slow
clusters would exhaust) and every watch on a thread of its own that hands events to
the loop. Every call has a connect and a read timeout and no urllib3 retries of its
own: the controllers' work queues own retrying and back-off, so an unreachable
cluster costs one timeout, not several.

Failures arrive as two exceptions: `Unreachable` (no HTTP answer: refused, timed out,
TLS failure) and `KubeError` (an HTTP answer with a Kubernetes `Status`: `status`,
`reason`, `message`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import hashlib
import json
import threading
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, Final, TypeVar

import kubernetes.client
import kubernetes.config
import kubernetes.dynamic
import kubernetes.watch
import urllib3
from kubernetes.client.exceptions import ApiException

T = TypeVar("T")
TIMEOUT: Final = (5.0, 30.0)
"""(connect, read) seconds for one request."""
WATCH_SECONDS: Final = 300
"""Server-side lifetime of one watch request; the watch is then reopened."""


class KubeError(Exception):
    """The cluster answered with an error `Status`."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}" if status else message)
        self.status, self.reason, self.message = status, reason, message

    @classmethod
    def of(cls, err: ApiException) -> KubeError:
        reason, message = str(err.reason or ""), str(err.reason or "")
        with contextlib.suppress(TypeError, ValueError, AttributeError):
            body = json.loads(err.body or "")
            reason, message = body.get("reason", reason), body.get("message", message)
        return cls(int(err.status or 0), reason, message)


class Unreachable(KubeError):
    """No HTTP answer from the cluster."""

    def __init__(self, message: str) -> None:
        super().__init__(0, "Unreachable", message)


def translated(err: BaseException) -> KubeError | None:
    """The Krake view of an exception raised by the client, or None if it is ours."""
    if isinstance(err, ApiException):
        return KubeError.of(err) if err.status else Unreachable(str(err.reason))
    if isinstance(err, (urllib3.exceptions.HTTPError, OSError)):
        return Unreachable(f"{type(err).__name__}: {err}")
    return None


def fingerprint(kubeconfig: Mapping[str, Any]) -> str:
    """A digest of the kubeconfig: a connection is rebuilt when it changes."""
    return hashlib.sha256(json.dumps(kubeconfig, sort_keys=True).encode()).hexdigest()


class TimedApiClient(kubernetes.client.ApiClient):
    """An ApiClient whose requests (typed and dynamic alike) time out by default."""

    def __init__(
        self, configuration: kubernetes.client.Configuration, timeout: tuple[float, float]
    ) -> None:
        super().__init__(configuration)
        self.timeout = timeout

    def call_api(self, *args: Any, _request_timeout: Any = None, **kwargs: Any) -> Any:
        kwargs["_request_timeout"] = _request_timeout or self.timeout
        return super().call_api(*args, **kwargs)


class Connection:
    """The API of the cluster that `kubeconfig` (a dict with one context) describes."""

    def __init__(
        self,
        kubeconfig: Mapping[str, Any],
        *,
        workers: int = 8,
        timeout: tuple[float, float] = TIMEOUT,
    ) -> None:
        configuration = kubernetes.client.Configuration()
        kubernetes.config.load_kube_config_from_dict(
            dict(kubeconfig), client_configuration=configuration, persist_config=False
        )
        configuration.retries = False
        self.fingerprint = fingerprint(kubeconfig)
        self.api_client = TimedApiClient(configuration, timeout)
        self.timeout = timeout
        self._pool = concurrent.futures.ThreadPoolExecutor(workers, "kube-call")
        self._dynamic: kubernetes.dynamic.DynamicClient | None = None
        self._closed = threading.Event()

    async def call(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`function(*args, **kwargs)` (a client method) on this connection's threads."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(
                self._pool, functools.partial(function, *args, **kwargs)
            )
        except Exception as err:
            raise (translated(err) or err) from None

    async def dynamic(self) -> kubernetes.dynamic.DynamicClient:
        """A discovery-backed client for any resource type the cluster serves."""
        if self._dynamic is None:
            self._dynamic = await self.call(kubernetes.dynamic.DynamicClient, self.api_client)
        return self._dynamic

    def core(self) -> kubernetes.client.CoreV1Api:
        return kubernetes.client.CoreV1Api(self.api_client)

    async def watch(
        self, function: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> AsyncIterator[dict[str, Any]]:
        """Events `{"type", "object"}` (plain dicts) of a watch on `function` (a list
        method), until the server ends the watch; errors as in `call`. Leaving the
        loop stops the watch's thread at its next event or read timeout."""
        loop = asyncio.get_running_loop()
        events: asyncio.Queue[dict[str, Any] | BaseException | None] = asyncio.Queue()
        watcher = kubernetes.watch.Watch()
        kwargs.setdefault("timeout_seconds", WATCH_SECONDS)
        kwargs.setdefault("_request_timeout", (self.timeout[0], WATCH_SECONDS + 30))

        def put(item: dict[str, Any] | BaseException | None) -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(events.put_nowait, item)

        def pump() -> None:
            try:
                for event in watcher.stream(function, *args, **kwargs):
                    if self._closed.is_set():
                        return
                    put({"type": event["type"], "object": event["raw_object"]})
                put(None)
            except BaseException as err:  # handed to the loop, raised there
                put(err)

        threading.Thread(target=pump, name="kube-watch", daemon=True).start()
        try:
            while (item := await events.get()) is not None:
                if isinstance(item, BaseException):
                    raise translated(item) or item
                yield item
        finally:
            watcher.stop()

    async def close(self) -> None:
        self._closed.set()
        self._pool.shutdown(wait=False, cancel_futures=True)
        await asyncio.to_thread(self.api_client.close)


class Connections:
    """One `Connection` per cluster key, rebuilt when the cluster's kubeconfig changes."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._open: dict[Any, Connection] = {}
        self._closings: set[asyncio.Task[None]] = set()

    def get(self, key: Any, kubeconfig: Mapping[str, Any]) -> Connection:
        current = self._open.get(key)
        if current is not None and current.fingerprint == fingerprint(kubeconfig):
            return current
        if current is not None:
            self._closing(current)
        connection = self._open[key] = Connection(kubeconfig, **self._options)
        return connection

    async def drop(self, key: Any) -> None:
        if (connection := self._open.pop(key, None)) is not None:
            await connection.close()

    async def close(self) -> None:
        connections, self._open = list(self._open.values()), {}
        await asyncio.gather(*(c.close() for c in connections), *self._closings)

    def _closing(self, connection: Connection) -> None:
        task = asyncio.get_running_loop().create_task(connection.close())
        self._closings.add(task)
        task.add_done_callback(self._closings.discard)
