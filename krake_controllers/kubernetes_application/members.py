"""Watches on member clusters: a live, label-selected copy of Krake's objects.

One `MemberWatch` per (cluster, resource type) lists the objects carrying the
application label (every namespace), then watches from the list's
resourceVersion, as client-go's reflector does: an expired version (410) lists
again and diffs the new list against the cache; a stream the server ends (its
timeoutSeconds) is reopened from the last version seen; any other failure (the
cluster unreachable) backs off, jittered and capped, and resumes. Each change
calls `on_change(uid)` with the application label of the object (before and
after), so the controller re-reconciles that application: drift, deletions and
status progress on the cluster arrive as events, never by polling.

`MemberWatches` starts watches on demand and keeps one per (cluster, type); once
a cluster's connection is replaced (new kubeconfig) its old watches stop, and each
type is watched again through the new connection when next needed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterable
from typing import Any, Final

import structlog

from krake_controllers.kube.connection import Connection, KubeError
from krake_controllers.kubernetes_application.manifests import APP_LABEL
from krake_controllers.runtime.backoff import Backoff

log = structlog.get_logger(__name__)
GONE: Final = 410
Key = tuple[str, str]  # (namespace, name)
OnChange = Callable[[str], None]


def _key(obj: dict[str, Any]) -> Key:
    meta = obj.get("metadata", {})
    return meta.get("namespace", ""), meta["name"]


def _uid(obj: dict[str, Any] | None) -> str:
    if obj is None:
        return ""
    return str(obj.get("metadata", {}).get("labels", {}).get(APP_LABEL, ""))


class MemberWatch:
    """The objects of one resource type on one cluster that carry the app label."""

    def __init__(
        self,
        connection: Connection,
        dynamic: Any,
        resource: Any,
        on_change: OnChange,
        *,
        backoff: Backoff | None = None,
        watch_seconds: int = 300,
    ) -> None:
        self.connection, self.dynamic, self.resource = connection, dynamic, resource
        self.on_change = on_change
        self.backoff = backoff or Backoff(base=0.2, cap=10.0)
        self.watch_seconds = watch_seconds
        self.cache: dict[Key, dict[str, Any]] = {}
        self.uids: dict[str, set[Key]] = {}
        self.resource_version = ""
        self.synced = asyncio.Event()
        self.failing = ""  # the last failure, while it lasts

    def get(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.cache.get((namespace, name))

    def of_uid(self, uid: str) -> list[dict[str, Any]]:
        return [self.cache[key] for key in sorted(self.uids.get(uid, ()))]

    async def run(self) -> None:
        failures, relist = 0, True
        while True:
            try:
                if relist:
                    await self._list()
                    relist = False
                await self._watch()
                failures = 0
                self.failing = ""
            except KubeError as err:
                if err.status == GONE:
                    relist = True
                    continue
                self.failing = str(err)
                pause = self.backoff.delay(failures)
                failures += 1
                log.info("member.watch_retry", path=self.resource.path(), error=str(err))
                await asyncio.sleep(pause)

    async def _list(self) -> None:
        response = await self.connection.call(
            self.dynamic.get, self.resource, label_selector=APP_LABEL, serialize=False
        )
        listing = json.loads(response.data)
        fresh = {_key(obj): obj for obj in listing.get("items") or []}
        for key in self.cache.keys() - fresh.keys():
            self._store(key, None)
        for key, obj in fresh.items():
            old = self.cache.get(key)
            if old is None or old["metadata"].get("resourceVersion") != obj["metadata"].get(
                "resourceVersion"
            ):
                obj.setdefault("apiVersion", self.resource.group_version)
                obj.setdefault("kind", self.resource.kind)
                self._store(key, obj)
        self.resource_version = listing.get("metadata", {}).get("resourceVersion", "")
        self.synced.set()

    async def _watch(self) -> None:
        events = self.connection.watch(
            self.dynamic.get,
            self.resource,
            label_selector=APP_LABEL,
            resource_version=self.resource_version,
            allow_watch_bookmarks=True,
            serialize=False,
            timeout_seconds=self.watch_seconds,
        )
        async for event in events:
            obj = event["object"]
            version = obj.get("metadata", {}).get("resourceVersion")
            if version:
                self.resource_version = version
            if event["type"] == "BOOKMARK":
                continue
            log.debug("member.event", kind=self.resource.kind, type=event["type"], rv=version)
            self._store(_key(obj), None if event["type"] == "DELETED" else obj)

    def _store(self, key: Key, obj: dict[str, Any] | None) -> None:
        old = self.cache.pop(key, None)
        if old is not None:
            self.uids.get(_uid(old), set()).discard(key)
        if obj is not None:
            self.cache[key] = obj
            self.uids.setdefault(_uid(obj), set()).add(key)
        for uid in {_uid(old), _uid(obj)} - {""}:
            self.on_change(uid)


class MemberWatches:
    """Every member watch of the controller, keyed by (cluster, apiVersion, kind)."""

    def __init__(self, on_change: OnChange, **options: Any) -> None:
        self.on_change = on_change
        self.options = options
        self._watches: dict[tuple[str, str, str], tuple[MemberWatch, asyncio.Task[None]]] = {}

    def ensure(
        self, cluster: str, connection: Connection, dynamic: Any, resource: Any
    ) -> MemberWatch:
        key = (cluster, resource.group_version, resource.kind)
        running = self._watches.get(key)
        if running is not None and running[0].connection is connection:
            return running[0]
        for other in [k for k, (w, _) in self._watches.items() if k[0] == cluster]:
            if self._watches[other][0].connection is not connection:  # a new kubeconfig
                self._watches.pop(other)[1].cancel()
        watch = MemberWatch(connection, dynamic, resource, self.on_change, **self.options)
        task = asyncio.get_running_loop().create_task(watch.run(), name=f"member-watch-{key}")
        self._watches[key] = (watch, task)
        return watch

    def of_cluster(self, cluster: str) -> Iterable[MemberWatch]:
        return [w for (c, _, _), (w, _) in self._watches.items() if c == cluster]

    async def stop(self, cluster: str) -> None:
        """Stop every watch on `cluster` (it was deleted, or its connection replaced)."""
        keys = [key for key in self._watches if key[0] == cluster]
        tasks = [self._watches.pop(key)[1] for key in keys]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def close(self) -> None:
        tasks = [task for _, task in self._watches.values()]
        self._watches.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
