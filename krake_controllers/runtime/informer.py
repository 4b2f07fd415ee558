"""The informer: a local, indexed copy of one kind's objects, kept by list + watch.

Invariants:
- After `synced` is set, `cache` equals the server's objects (under the
  informer's namespace and selectors) as of `resource_version`, and every handler
  has seen one event per change that brought it there.
- It lists (all pages, one snapshot), then watches from the list's
  resource_version. A BOOKMARK only advances the version. OUT_OF_RANGE (history
  gone, or a restarted server) means list again; the relist is diffed against the
  cache and emitted as ADDED/UPDATED/DELETED, so handlers miss nothing.
- Any other error backs off (jittered, capped exponential) and resumes the watch
  from the last version seen. A watch silent for 3x the bookmark interval (no
  event, no bookmark) is treated as dead and reopened.
- `resync` seconds > 0 replays the cache (not the server) to the handlers as
  RESYNC events, so level-triggered controllers revisit every object.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import grpc
import grpc.aio
import structlog

from krake.core.v1 import metadata_pb2
from krake_controllers.runtime.backoff import Backoff
from krake_controllers.runtime.client import KindClient

log = structlog.get_logger(__name__)
ADDED: Final = "ADDED"
UPDATED: Final = "UPDATED"
DELETED: Final = "DELETED"
RESYNC: Final = "RESYNC"


@dataclass(frozen=True, slots=True)
class Event:
    type: str  # ADDED, UPDATED, DELETED or RESYNC
    key: str
    object: Any
    old: Any = None


Handler = Callable[[Event], None]
Indexer = Callable[[Any], Iterable[str]]


def key_of(obj: Any) -> str:
    """`namespace/name`, or `name` for global kinds."""
    meta = obj.metadata
    return f"{meta.namespace}/{meta.name}" if meta.namespace else meta.name


def by_namespace(obj: Any) -> Iterable[str]:
    return (obj.metadata.namespace,)


def by_owner(obj: Any) -> Iterable[str]:
    return tuple(ref.uid for ref in obj.metadata.owners if ref.uid)


def by_label(label: str) -> Indexer:
    def values(obj: Any) -> Iterable[str]:
        value = obj.metadata.labels.get(label)
        return () if value is None else (value,)

    return values


class DeadWatch(Exception):
    """No event and no bookmark for 3x the bookmark interval."""


class Informer:
    def __init__(
        self,
        client: KindClient,
        *,
        namespace: str = "",
        label_selector: str = "",
        field_selector: str = "",
        indexers: Mapping[str, Indexer] | None = None,
        resync: float = 0.0,
        bookmark_interval: float = 10.0,
        backoff: Backoff | None = None,
    ) -> None:
        self.client = client
        self.selection = {
            "label_selector": label_selector,
            "field_selector": field_selector,
        }
        self.namespace = namespace
        self.indexers = dict(indexers or {})
        self.resync = resync
        self.silence = 3 * bookmark_interval
        self.backoff = backoff or Backoff(base=0.1, cap=30.0)
        self.cache: dict[str, Any] = {}
        self.indexes: dict[str, dict[str, set[str]]] = {name: {} for name in self.indexers}
        self.resource_version = ""
        self.synced = asyncio.Event()
        self.handlers: list[Handler] = []
        self.relists = 0

    def add_handler(self, handler: Handler) -> None:
        self.handlers.append(handler)

    def get(self, key: str) -> Any:
        return self.cache.get(key)

    def index(self, name: str, value: str) -> list[Any]:
        return [self.cache[key] for key in sorted(self.indexes[name].get(value, ()))]

    async def run(self) -> None:
        """List and watch until cancelled."""
        resyncing = asyncio.create_task(self._resync()) if self.resync > 0 else None
        failures, relist = 0, True
        try:
            while True:
                try:
                    if relist:
                        await self._relist()
                        relist = False
                    if await self._watch():
                        failures = 0
                except grpc.aio.AioRpcError as err:
                    if err.code() == grpc.StatusCode.OUT_OF_RANGE:
                        relist = True
                        continue
                    pause = self.backoff.delay(failures)
                    failures += 1
                    log.warning(
                        "informer.retry",
                        kind=self.client.kind.name,
                        code=err.code().name,
                        error=err.details(),
                        pause=round(pause, 3),
                    )
                    await asyncio.sleep(pause)
                except DeadWatch:
                    log.warning("informer.dead_watch", kind=self.client.kind.name)
        finally:
            if resyncing:
                resyncing.cancel()

    async def _relist(self) -> None:
        page = await self.client.list(self.namespace, **self.selection)
        fresh = {key_of(obj): obj for obj in page.items}
        old = self.cache
        for key, obj in fresh.items():
            if key not in old:
                self._store(Event(ADDED, key, obj))
            elif old[key].metadata.resource_version != obj.metadata.resource_version:
                self._store(Event(UPDATED, key, obj, old[key]))
        for key in old.keys() - fresh.keys():
            self._store(Event(DELETED, key, old[key], old[key]))
        self.resource_version = page.resource_version
        self.relists += 1
        self.synced.set()

    async def _watch(self) -> bool:
        """Follow one watch stream; True if it delivered anything before it ended."""
        call = self.client.watch(
            self.namespace, resource_version=self.resource_version, **self.selection
        )
        loop = asyncio.get_running_loop()
        delivered = False
        try:
            async with asyncio.timeout(self.silence) as silence:
                while True:
                    event = await call.read()
                    if event is grpc.aio.EOF:
                        return delivered
                    delivered = True
                    silence.reschedule(loop.time() + self.silence)
                    self._apply(event)
        except TimeoutError:
            raise DeadWatch from None
        finally:
            call.cancel()

    def _apply(self, event: Any) -> None:
        obj = event.object
        self.resource_version = obj.metadata.resource_version
        if event.type == metadata_pb2.BOOKMARK:
            return
        key = key_of(obj)
        old = self.cache.get(key)
        if event.type == metadata_pb2.DELETED:
            if old is not None:
                self._store(Event(DELETED, key, obj, old))
        else:
            self._store(Event(ADDED if old is None else UPDATED, key, obj, old))

    def _store(self, event: Event) -> None:
        if event.old is not None:
            self._unindex(event.key, event.old)
        if event.type == DELETED:
            self.cache.pop(event.key, None)
        else:
            self.cache[event.key] = event.object
            self._index(event.key, event.object)
        self._emit(event)

    def _index(self, key: str, obj: Any) -> None:
        for name, indexer in self.indexers.items():
            for value in indexer(obj):
                self.indexes[name].setdefault(value, set()).add(key)

    def _unindex(self, key: str, obj: Any) -> None:
        for name, indexer in self.indexers.items():
            for value in indexer(obj):
                keys = self.indexes[name].get(value)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del self.indexes[name][value]

    def _emit(self, event: Event) -> None:
        for handler in self.handlers:
            handler(event)

    async def _resync(self) -> None:
        while True:
            await asyncio.sleep(self.resync)
            for key, obj in list(self.cache.items()):
                self._emit(Event(RESYNC, key, obj, obj))
