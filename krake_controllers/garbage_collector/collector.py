"""The garbage collector: cascading deletion over `metadata.owners`, for every kind.

Propagation policies, as the API records them on delete (DESIGN.md §3):
- BACKGROUND (default): the owner goes at once; each dependent whose every owner
  is gone is then deleted, level by level. "Gone" is checked against the live API
  before deleting, since the caches of different kinds are not in step.
- FOREGROUND (`foregroundDeletion` finalizer): the owner stays, deleted-marked,
  while the collector deletes its dependents (those with dependents of their own
  also in the foreground, so a tree goes bottom-up); when none is left the
  collector removes its finalizer and the API removes the owner.
- ORPHAN (`orphan` finalizer): dependents lose their reference to the owner and
  stay; then the finalizer goes.
For FOREGROUND and ORPHAN the dependents come from the informers, so the collector
first waits until every informer has seen the owner's deletion revision (the
API's bookmarks move idle ones on): a dependent created before it but not
delivered yet would otherwise be missed, and once the owner is gone, deleted in
the background as ownerless (orphaning) or after its owner (foreground).
The collector only ever removes these two finalizers; other controllers'
finalizers keep their objects (and, in the foreground, their owners) in place.
A dependent that is also above its owner (a cycle of owner references) does not
block the owner: the cycle is logged and, where the owner's status has a
`reason`, reported there, and the deletion goes on.
"""

from __future__ import annotations

from typing import Any, Final

import structlog

from krake.core.v1 import metadata_pb2
from krake_api import registry
from krake_controllers.garbage_collector.graph import Graph, ObjectKey, names_owner, owner_key
from krake_controllers.runtime.client import Client, unless_gone
from krake_controllers.runtime.controller import Result
from krake_controllers.runtime.informer import DELETED, Event, Handler
from krake_controllers.runtime.queue import WorkQueue

log = structlog.get_logger(__name__)
FOREGROUND: Final = "foregroundDeletion"
ORPHAN: Final = "orphan"
SYNC_RECHECK: Final = 0.2
"""Seconds between checks that the informers reached an owner's deletion."""


def copy(obj: Any) -> Any:
    new = type(obj)()
    new.CopyFrom(obj)
    return new


class Collector:
    """The reconciler; keys are `ObjectKey`s of any kind."""

    def __init__(self, client: Client, graph: Graph) -> None:
        self.client, self.graph = client, graph
        self.cycles_reported: set[ObjectKey] = set()

    def api(self, key: ObjectKey) -> Any:
        return self.client.kind(registry.KINDS[key.kind])

    async def reconcile(self, key: ObjectKey) -> Result:
        obj = self.graph.get(key)
        if obj is None:
            return Result()
        meta = obj.metadata
        if meta.HasField("deleted"):
            policies = {ORPHAN: self._orphan, FOREGROUND: self._foreground}
            policy = next((policies[f] for f in policies if f in meta.finalizers), None)
            if policy is None:
                return Result()
            lagging = self.graph.behind(int(meta.resource_version))
            if lagging:
                log.debug("gc.owner_waits", owner=str(key), informers=lagging)
                return Result(requeue_after=SYNC_RECHECK)
            await policy(obj)
        elif meta.owners:
            await self._check_owners(obj)
        return Result()

    async def _remove_finalizer(self, obj: Any, finalizer: str) -> None:
        new = copy(obj)
        new.metadata.ClearField("finalizers")
        new.metadata.finalizers.extend(f for f in obj.metadata.finalizers if f != finalizer)
        await unless_gone(self.api(ObjectKey.of(obj)).update(new))

    async def _orphan(self, owner: Any) -> None:
        for dependent in self.graph.dependents(owner):
            new = copy(dependent)
            new.metadata.ClearField("owners")
            new.metadata.owners.extend(
                ref
                for ref in dependent.metadata.owners
                if not (
                    names_owner(ref, owner)
                    and owner_key(ref, dependent.metadata.namespace) == ObjectKey.of(owner)
                )
            )
            await unless_gone(self.api(ObjectKey.of(dependent)).update(new))
        await self._remove_finalizer(owner, ORPHAN)
        log.info("gc.orphaned", owner=str(ObjectKey.of(owner)))

    async def _foreground(self, owner: Any) -> None:
        blocking = 0
        for dependent in self.graph.dependents(owner):
            if self.graph.in_cycle_with(owner, dependent):
                await self._report_cycle(owner, dependent)
                continue
            blocking += 1
            if not dependent.metadata.HasField("deleted"):
                below = bool(self.graph.dependents(dependent))
                policy = metadata_pb2.FOREGROUND if below else metadata_pb2.BACKGROUND
                key = ObjectKey.of(dependent)
                await unless_gone(self.api(key).delete(key.namespace, key.name, propagation=policy))
        if not blocking:  # the dependents' DELETED events bring the owner back here
            await self._remove_finalizer(owner, FOREGROUND)

    async def _check_owners(self, dependent: Any) -> None:
        absent = [
            ref for ref in dependent.metadata.owners if not await self._exists(ref, dependent)
        ]
        if not absent:
            return
        key = ObjectKey.of(dependent)
        if len(absent) == len(dependent.metadata.owners):
            log.info("gc.delete", object=str(key))
            # only the version seen ownerless: one changed since (ABORTED, retried) is
            # judged again from its new version
            version = dependent.metadata.resource_version
            await unless_gone(
                self.api(key).delete(key.namespace, key.name, resource_version=version)
            )
            return
        new = copy(dependent)
        new.metadata.ClearField("owners")
        new.metadata.owners.extend(r for r in dependent.metadata.owners if r not in absent)
        await unless_gone(self.api(key).update(new))

    async def _exists(self, ref: Any, dependent: Any) -> bool:
        """Whether `ref`'s owner exists: the cache first, the live API to confirm absence."""
        if self.graph.owner(ref, dependent) is not None:
            return True
        key = owner_key(ref, dependent.metadata.namespace)
        if key is None or ref.uid in self.graph.gone:
            return False
        live = await unless_gone(self.api(key).get(key.namespace, key.name))
        if live is not None and names_owner(ref, live):
            return True
        self.graph.remember_gone(ref.uid)
        return False

    async def _report_cycle(self, owner: Any, dependent: Any) -> None:
        key = ObjectKey.of(owner)
        if key in self.cycles_reported:
            return
        self.cycles_reported.add(key)
        message = f"owner references form a cycle through {ObjectKey.of(dependent)}"
        log.warning("gc.cycle", owner=str(key), message=message)
        kind = registry.KINDS[key.kind]
        status: Any = kind.message.DESCRIPTOR.fields_by_name["status"].message_type
        if "reason" in status.fields_by_name and self.client.serves(kind, "update_status"):
            new = copy(owner)
            new.status.reason.code = metadata_pb2.Reason.INVALID_RESOURCE
            new.status.reason.message = message
            await unless_gone(self.api(key).update_status(new))


def enqueuer(graph: Graph, queue: WorkQueue[ObjectKey]) -> Handler:
    """Informer handler: queue what an event may have made collectable."""

    def handle(event: Event) -> None:
        obj = event.object
        gone = event.type == DELETED
        deleting = obj.metadata.HasField("deleted")
        if not gone and (deleting or obj.metadata.owners):
            queue.add(ObjectKey.of(obj))
        if gone or deleting:
            for dependent in graph.dependents(obj):
                queue.add(ObjectKey.of(dependent))
        if gone:  # an owner waiting in the foreground may now be free to go
            graph.remember_gone(obj.metadata.uid)
            for ref in obj.metadata.owners:
                if (owner := owner_key(ref, obj.metadata.namespace)) is not None:
                    queue.add(owner)

    return handle
