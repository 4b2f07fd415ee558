"""The object store of one fake cluster: objects by resource, one global revision
counter, a bounded event log and the subscriptions that watches read.

Invariants:
- every write takes the next revision of ONE counter shared by all resources, and the
  stored object's `metadata.resourceVersion` is that revision as a string;
- the log holds every event with revision > `compacted`, in revision order; a watch
  may start at any revision >= `compacted`, older ones raise `Expired` (HTTP 410);
- a subscription receives every later event of its resource exactly once, in order:
  subscribing copies the backlog and registers the queue without yielding the loop.
The store runs on the server's event loop only; nothing here is thread-safe.
"""

from __future__ import annotations

import asyncio
import copy
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from krake_testing.kube import errors

Resource = tuple[str, str]  # (group, plural)
Key = tuple[str, str]  # (namespace, name); namespace "" for cluster-scoped objects
Object = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Event:
    """One change. `old` is None for ADDED; for DELETED `new` is the last state."""

    revision: int
    type: str  # ADDED | MODIFIED | DELETED
    resource: Resource
    old: Object | None
    new: Object


@dataclass(eq=False)
class Subscription:
    """What a watch reads: events of one resource; None in the queue ends the watch."""

    resource: Resource
    queue: asyncio.Queue[Event | None] = field(default_factory=asyncio.Queue)


def key_of(obj: Object) -> Key:
    meta = obj["metadata"]
    return (meta.get("namespace", ""), meta["name"])


class Store:
    def __init__(self, *, history: int = 10_000) -> None:
        self.revision = 0
        self.compacted = 0
        self._history = history
        self._objects: dict[Resource, dict[Key, Object]] = {}
        self._log: deque[Event] = deque()
        self._subscriptions: set[Subscription] = set()
        self.listeners: list[Callable[[Event], None]] = []

    def get(self, resource: Resource, key: Key) -> Object | None:
        """A deep copy of the stored object, or None."""
        found = self._objects.get(resource, {}).get(key)
        return copy.deepcopy(found) if found is not None else None

    def items(self, resource: Resource, namespace: str | None = None) -> list[Object]:
        """Deep copies of the objects of `resource`, sorted by (namespace, name)."""
        objects = self._objects.get(resource, {})
        keys = sorted(k for k in objects if namespace is None or k[0] == namespace)
        return [copy.deepcopy(objects[k]) for k in keys]

    def resources(self) -> list[Resource]:
        return [r for r, objects in self._objects.items() if objects]

    def put(self, resource: Resource, obj: Object) -> Object:
        """Store `obj` (added or modified) at the next revision; returns a copy."""
        stored = copy.deepcopy(obj)
        objects = self._objects.setdefault(resource, {})
        old = objects.get(key_of(stored))
        revision = self._stamp(stored)
        objects[key_of(stored)] = stored
        kind = "ADDED" if old is None else "MODIFIED"
        self._publish(Event(revision, kind, resource, old, stored))
        return copy.deepcopy(stored)

    def remove(self, resource: Resource, key: Key) -> Object:
        """Remove an object; the DELETED event carries it at the deleting revision."""
        old = self._objects[resource].pop(key)
        final = copy.deepcopy(old)
        revision = self._stamp(final)
        self._publish(Event(revision, "DELETED", resource, old, final))
        return copy.deepcopy(final)

    def subscribe(self, resource: Resource, after: int) -> Subscription:
        """Events of `resource` with revision > `after`; raises `Expired` if compacted."""
        if after < self.compacted:
            raise errors.Expired(f"too old resource version: {after} ({self.compacted})")
        subscription = Subscription(resource)
        for event in self._log:
            if event.revision > after and event.resource == resource:
                subscription.queue.put_nowait(event)
        self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscriptions.discard(subscription)

    def compact(self, revision: int | None = None) -> None:
        """Forget events up to `revision` (default: all), as etcd compaction does."""
        self.compacted = max(self.compacted, self.revision if revision is None else revision)
        while self._log and self._log[0].revision <= self.compacted:
            self._log.popleft()

    def close_subscriptions(self) -> None:
        """End every watch (server stop, or the cluster made unreachable)."""
        for subscription in self._subscriptions:
            subscription.queue.put_nowait(None)
        self._subscriptions.clear()

    def _stamp(self, obj: Object) -> int:
        self.revision += 1
        obj["metadata"]["resourceVersion"] = str(self.revision)
        return self.revision

    def _publish(self, event: Event) -> None:
        self._log.append(event)
        if len(self._log) > self._history:
            self.compact(self._log[0].revision)
        for subscription in self._subscriptions:
            if subscription.resource == event.resource:
                subscription.queue.put_nowait(event)
        for listener in self.listeners:
            listener(event)
