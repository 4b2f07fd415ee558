"""The watch cache: one store watch per kind feeds every client stream (DESIGN.md §4).

Invariants:
- `state` is the kind's objects as of `revision`; `ring` holds the events with
  revision in (`oldest`, `revision`], in revision order. A subscription made at
  revision R (or after a resource_version R with oldest <= R) therefore receives
  every later event once, in order: `subscribe` takes its snapshot or replay and
  registers itself without awaiting, so no event can fall between the two.
- Fan-out never blocks: each subscription has a bounded queue; one that is full
  is cut off (its stream ends with RESOURCE_EXHAUSTED) and the others go on.
- Selectors are applied per subscription against the old and the new object, as
  Kubernetes does: an object leaving a watcher's selection is DELETED for it, one
  entering it is ADDED.

Cost, since one cache may feed thousands of streams: subscriptions are indexed by
their filter's `scope` (namespace, name; "" = any), so an event is offered only to
the watchers that can select it: a watch of one object or one namespace costs
nothing for the others' events. An event is wrapped in a response message once for
all the streams it goes to (`Event.wrapped`).
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import structlog
from google.protobuf.message import DecodeError, Message

from krake.core.v1 import metadata_pb2
from krake_api import errors
from krake_api.registry import Kind
from krake_api.storage import base as storage

log = structlog.get_logger(__name__)
ADDED: Final = metadata_pb2.ADDED
UPDATED: Final = metadata_pb2.UPDATED
DELETED: Final = metadata_pb2.DELETED
BOOKMARK: Final = metadata_pb2.BOOKMARK


@dataclass(slots=True)
class Event:
    type: int  # krake.core.v1.EventType
    object: Message
    revision: int
    previous: Message | None = None  # the object before an UPDATED
    wrapped: Message | None = field(default=None, compare=False, repr=False)
    """The response message carrying this event, built once for every stream."""


Filter = Callable[[Message], bool]
"""Selects objects for a subscription. A filter with a `scope` attribute, a pair
(namespace, name) where "" means any, promises to select nothing outside it."""
Scope = tuple[str, str]
ANYWHERE: Final[Scope] = ("", "")
RETRY: Final = 1.0
"""Seconds before a cache whose store watch failed lists again."""
LagObserver = Callable[[Kind, float], None]
"""Told, per object written, the seconds from its `metadata.modified` to the cache."""


@dataclass(eq=False)
class Subscription:
    """One client stream's view: a bounded queue of the events its filter selects."""

    matches: Filter
    capacity: int
    after: int = 0  # events at or before this revision are not for this watcher
    queue: asyncio.Queue[Event] = field(init=False)
    exhausted: bool = False
    scope: Scope = field(init=False)

    def __post_init__(self) -> None:
        self.queue = asyncio.Queue(self.capacity)
        self.scope = getattr(self.matches, "scope", ANYWHERE)

    def offer(self, event: Event) -> bool:
        """Queue what `event` means for this watcher; False once it is cut off."""
        if self.exhausted:
            return False
        if event.revision <= self.after:
            return True
        seen = self._view(event)
        if seen is None:
            return True
        try:
            self.queue.put_nowait(seen)
        except asyncio.QueueFull:
            self.exhausted = True
            return False
        return True

    def _view(self, event: Event) -> Event | None:
        now = self.matches(event.object)
        before = event.previous is not None and self.matches(event.previous)
        if event.type != UPDATED:
            return event if now else None
        if now and before:
            return event
        if now:
            return Event(ADDED, event.object, event.revision)
        return Event(DELETED, event.object, event.revision) if before else None


class WatchCache:
    """The cached state and recent events of one kind; see the module docstring."""

    def __init__(
        self,
        store: storage.Store,
        kind: Kind,
        *,
        ring_size: int = 10_000,
        queue_size: int = 1_000,
        progress_interval: float = 5.0,
        on_lag: LagObserver | None = None,
    ) -> None:
        self.store, self.kind = store, kind
        self.on_lag = on_lag
        self.queue_size = queue_size
        self.progress_interval = progress_interval
        self.state: dict[str, Message] = {}
        self.ring: collections.deque[Event] = collections.deque(maxlen=ring_size)
        self.revision = 0
        self.oldest = 0  # events after this revision are in the ring
        self.subscriptions: set[Subscription] = set()
        self.scopes: dict[Scope, set[Subscription]] = {}
        self.ready = asyncio.Event()
        self.advanced = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"watch-cache-{self.kind.name}")

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        """List, then follow the store's watch; relist when the history is gone."""
        while True:
            try:
                await self._list()
                async for change in self.store.watch(
                    self.kind.prefix(),
                    after=self.revision,
                    progress_interval=self.progress_interval,
                ):
                    self._apply(change)
            except storage.Compacted:
                log.warning("watch_cache.relist", kind=self.kind.name, revision=self.revision)
            except storage.Unavailable as err:
                log.warning("watch_cache.unavailable", kind=self.kind.name, error=str(err))
                await asyncio.sleep(RETRY)
            except Exception:  # the cache must outlive any one failure: its watches wait on it
                log.exception("watch_cache.failed", kind=self.kind.name)
                await asyncio.sleep(RETRY)

    async def _list(self) -> None:
        """Read every object at one revision; report differences from the old state."""
        fresh: dict[str, Message] = {}
        after, revision = "", 0
        while True:
            page = await self.store.range(
                self.kind.prefix(), start_after=after, limit=1000, revision=revision
            )
            revision = page.revision
            for entry in page.entries:
                obj = self._decode(entry.key, entry.value, entry.mod_revision)
                if obj is not None:
                    fresh[entry.key] = obj
            if not page.more:
                break
            after = page.entries[-1].key
        if self.ready.is_set():
            self._diff(fresh, revision)
        self.state, self.revision = fresh, revision
        if not self.ready.is_set():
            self.oldest = revision
            self.ready.set()
        self._advance()

    def _diff(self, fresh: dict[str, Message], revision: int) -> None:
        for key, obj in fresh.items():
            old = self.state.get(key)
            if old is None:
                self._publish(Event(ADDED, obj, revision))
            elif old != obj:
                self._publish(Event(UPDATED, obj, revision, old))
        for key in self.state.keys() - fresh.keys():
            self._publish(Event(DELETED, self._stamped(self.state[key], revision), revision))

    def _decode(self, key: str, value: bytes, revision: int) -> Message | None:
        """The object stored at `key`; None for a value that is not one of this
        kind (written by something other than Krake): logged, and treated as absent."""
        try:
            obj = self.kind.message.FromString(value)
        except DecodeError:
            log.error("watch_cache.undecodable", kind=self.kind.name, key=key, revision=revision)
            return None
        obj.metadata.resource_version = str(revision)  # type: ignore[attr-defined]
        return obj

    def _stamped(self, obj: Message, revision: int) -> Message:
        copy: Any = type(obj)()
        copy.CopyFrom(obj)
        copy.metadata.resource_version = str(revision)
        return copy  # type: ignore[no-any-return]

    def _apply(self, change: storage.WatchEvent) -> None:
        if isinstance(change, storage.Progress):
            self.revision = max(self.revision, change.revision)
            self._advance()
            return
        previous = self.state.get(change.key)
        obj = None
        if change.type is not storage.ChangeType.DELETE:
            obj = self._decode(change.key, change.value, change.mod_revision)
        if obj is None:
            self.state.pop(change.key, None)
            if previous is not None:
                gone = self._stamped(previous, change.mod_revision)
                self._publish(Event(DELETED, gone, change.mod_revision))
        else:
            self.state[change.key] = obj
            if self.on_lag is not None:
                modified: Any = obj.metadata.modified  # type: ignore[attr-defined]
                self.on_lag(self.kind, time.time() - modified.seconds - modified.nanos / 1e9)
            kind = ADDED if previous is None else UPDATED
            self._publish(Event(kind, obj, change.mod_revision, previous))
        self.revision = max(self.revision, change.mod_revision)
        self._advance()

    def _publish(self, event: Event) -> None:
        if len(self.ring) == self.ring.maxlen:
            self.oldest = self.ring[0].revision
        self.ring.append(event)
        scopes, metadata = self.scopes, event.object.metadata  # type: ignore[attr-defined]
        namespace, name = metadata.namespace, metadata.name
        for scope in {ANYWHERE, (namespace, ""), ("", name), (namespace, name)}:
            for subscription in list(scopes.get(scope, ())):
                if not subscription.offer(event):
                    self.unsubscribe(subscription)

    def _advance(self) -> None:
        advanced, self.advanced = self.advanced, asyncio.Event()
        advanced.set()

    def subscribe(self, matches: Filter, resource_version: int | None) -> Subscription:
        """A subscription starting after `resource_version` (None: ADDED for the
        current state first). `WatchTooOld` if the ring no longer reaches back."""
        if resource_version is not None and resource_version < self.oldest:
            raise errors.WatchTooOld(
                f"resource_version {resource_version} is too old for the {self.kind.plural} "
                f"watch (oldest kept: {self.oldest}); list again"
            )
        backlog = (
            [Event(ADDED, obj, self.revision) for _, obj in sorted(self.state.items())]
            if resource_version is None
            else [e for e in self.ring if e.revision > resource_version]
        )
        # the backlog does not count against the live bound: a client resuming far
        # back must still be allowed `queue_size` events of live lag on top of it.
        # A resource_version the cache has not reached yet (the client read it from a
        # write the cache has still to apply) holds back the events up to it.
        after = 0 if resource_version is None else resource_version
        subscription = Subscription(matches, len(backlog) + self.queue_size, after)
        for event in backlog:
            subscription.offer(event)
        self.subscriptions.add(subscription)
        self.scopes.setdefault(subscription.scope, set()).add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self.subscriptions.discard(subscription)
        scoped = self.scopes.get(subscription.scope)
        if scoped is not None:
            scoped.discard(subscription)
            if not scoped:
                del self.scopes[subscription.scope]
