"""A mirror: the objects of one cluster-scoped resource type of a member cluster
(Nodes, CustomResourceDefinitions), kept as plain dicts by list + watch.

- `list()` reads every object and the list's resourceVersion.
- `follow()` watches from that version with bookmarks, applying each event; a watch
  the server ends (after `timeoutSeconds`) is reopened from the last version seen;
  410 Expired (history gone) lists again. `changed()` is called after every change
  of `objects`, bookmarks excepted. Other errors (`Unreachable`, `KubeError`) end
  `follow`, for the caller to decide what they mean.
- Leaving `follow` (an error, cancellation) stops its watch thread at once
  (`Connection.watch` shuts the watch's socket down).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Callable
from typing import Any, cast

from krake_controllers.kube.connection import Connection, KubeError

GONE = 410


class Mirror:
    def __init__(
        self,
        connection: Connection,
        list_function: Callable[..., Any],  # paths.collection
        changed: Callable[[], None],
        *,
        watch_seconds: int,
    ) -> None:
        self.connection = connection
        self.list_function = list_function
        self.changed = changed
        self.watch_seconds = watch_seconds
        self.objects: dict[str, dict[str, Any]] = {}
        self.resource_version = ""

    async def list(self) -> None:
        body = await self.connection.call(self.list_function)
        self.objects = {item["metadata"]["name"]: item for item in body.get("items") or ()}
        self.resource_version = str(body.get("metadata", {}).get("resourceVersion", ""))

    async def follow(self) -> None:
        """Keep `objects` current until an error other than 410 (or cancellation)."""
        connect, read_timeout = self.connection.timeout
        while True:
            watch = self.connection.watch(
                self.list_function,
                resource_version=self.resource_version,
                allow_watch_bookmarks=True,
                timeout_seconds=self.watch_seconds,
                _request_timeout=(connect, self.watch_seconds + read_timeout),
            )
            events = cast(AsyncGenerator[dict[str, Any], None], watch)  # an async generator
            try:
                async with contextlib.aclosing(events):
                    async for event in events:
                        self._apply(event)
            except KubeError as err:
                if err.status != GONE:
                    raise
                await self.list()
                self.changed()

    def _apply(self, event: dict[str, Any]) -> None:
        obj = event["object"]
        metadata = obj.get("metadata") or {}
        self.resource_version = str(metadata.get("resourceVersion", self.resource_version))
        if event["type"] == "BOOKMARK":
            return
        if event["type"] == "DELETED":
            self.objects.pop(metadata.get("name", ""), None)
        elif event["type"] in ("ADDED", "MODIFIED"):
            self.objects[metadata["name"]] = obj
        else:
            return
        self.changed()
